"""`lakeprobe report`: results/status.html, a static page that needs no account, from the JSONL records of
the last 24 hours: core services first, then the RSE x check grid, the TPC matrix and the last 24 hours per
RSE. Each cell shows the latest record of its series; a series without a record is a neutral no-data cell,
and skip and downtime are neutral too: only findings are red, only passes are green."""
import html
import time
from collections import defaultdict
from pathlib import Path

from lakeprobe.records import Record, read_jsonl

DAY_S = 24 * 3600
# Worst first: the colour of a group of records is that of its worst one; neutral states count only alone.
SEVERITY = ("fail", "error", "warn", "pass", "downtime", "skip")
STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; font-size: 13px; text-align: center; }
td.pass { background: #2e9e44; color: #fff; } td.warn { background: #f2a900; }
td.fail { background: #d0312d; color: #fff; } td.error { background: #7b3fa0; color: #fff; }
td.skip, td.downtime, td.nodata { background: #d9d9d9; color: #555; }
td.hour { width: 14px; padding: 0; height: 18px; }
#grid th { max-width: 70px; font-size: 11px; word-break: break-word; }
"""


def load(results_dir: Path, now: float) -> list[Record]:
    records = []
    for path in sorted(results_dir.glob("*.jsonl")):
        if path.stat().st_mtime >= now - DAY_S:
            records += [r for r in read_jsonl(path) if r.ts >= now - DAY_S]
    return sorted(records, key=lambda r: r.ts)


def worst(statuses) -> str:
    found = set(statuses)
    return next((s for s in SEVERITY if s in found), "nodata")


def _cell(status: str, title: str = "", labelled: bool = True, **data) -> str:
    attributes = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in data.items())
    label = ("no data" if status == "nodata" else status) if labelled else ""
    css = status if labelled else f"hour {status}"
    return f'<td class="{css}" data-status="{status}" title="{html.escape(title)}"{attributes}>{label}</td>'


def render(records: list[Record], now: float) -> str:
    latest = {}
    for r in records:  # sorted by time: the last one of a series wins
        latest[(r.suite, r.rse, r.protocol, r.peer, r.mode, r.check)] = r
    services = sorted({r.rse for r in latest.values() if r.suite == "services"})
    chain = [r for r in latest.values() if r.suite == "site" and not r.peer]
    copies = [r for r in latest.values() if r.peer]
    rses = sorted({r.rse for r in chain} | {r.rse for r in copies} | {r.peer for r in copies})
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>lakeprobe status</title>"
             f"<style>{STYLE}</style></head><body><h1>Data lake status</h1>",
             f"<p>Latest result of each check over the last 24 hours, as of "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(now))}; {len(records)} records.</p>"]
    parts.append(_services(latest, services, chain, rses))
    parts.append(_grid(chain))
    parts.append(_matrix(copies, rses))
    parts.append(_history(records, rses, now))
    parts.append("</body></html>")
    return "\n".join(parts)


def _services(latest, services, chain, rses) -> str:
    rows = []
    for name in services:
        mine = [r for r in latest.values() if r.suite == "services" and r.rse == name]
        rows.append(f"<tr><th>{html.escape(name)}</th>{_cell(worst(r.status for r in mine), component=name)}</tr>")
    statuses = [r.status for r in chain]
    rows.append(f"<tr><th>storage ({len(rses)} RSEs)</th>{_cell(worst(statuses), component='storage')}</tr>")
    return "<h2>Core services</h2><table id='services'>" + "".join(rows) + "</table>"


def _grid(chain) -> str:
    checks = list(dict.fromkeys(r.check for r in chain))
    by_row = defaultdict(dict)
    for r in chain:
        by_row[(r.rse, r.protocol)][r.check] = r
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(c)}</th>" for c in checks) + "</tr>"
    rows = []
    for (rse, protocol), cells in sorted(by_row.items()):
        tds = "".join(_cell(cells[c].status if c in cells else "nodata",
                            f"{cells[c].error_class} {cells[c].message}".strip() if c in cells else "",
                            rse=rse, protocol=protocol, check=c) for c in checks)
        rows.append(f"<tr><th>{html.escape(rse)} {protocol}</th>{tds}</tr>")
    return "<h2>RSE x check</h2><table id='grid'>" + head + "".join(rows) + "</table>"


def _matrix(copies, rses) -> str:
    modes = list(dict.fromkeys(r.mode for r in copies))
    by_pair = {(r.rse, r.peer, r.mode): r for r in copies}
    head = "<tr><th>source \\ destination</th>" + "".join(
        f"<th colspan='{len(modes)}'>{html.escape(d)}</th>" for d in rses) + "</tr>"
    sub = "<tr><th></th>" + "".join(f"<th>{m}</th>" for _ in rses for m in modes) + "</tr>"
    rows = []
    for source in rses:
        tds = []
        for destination in rses:
            for mode in modes:
                if source == destination:
                    tds.append("<td></td>")
                    continue
                r = by_pair.get((source, destination, mode))
                tds.append(_cell(r.status if r else "nodata", f"{r.error_class} {r.message}".strip() if r else "",
                                 source=source, destination=destination, mode=mode))
        rows.append(f"<tr><th>{html.escape(source)}</th>{''.join(tds)}</tr>")
    return "<h2>Third-party copy</h2><table id='tpc'>" + head + sub + "".join(rows) + "</table>"


def _history(records, rses, now) -> str:
    hours = defaultdict(list)
    for r in records:
        for rse in {r.rse, r.peer} - {""}:
            hours[(rse, int((now - r.ts) // 3600))].append(r.status)
    rows = []
    for rse in rses:
        tds = "".join(_cell(worst(hours.get((rse, ago), [])), f"{ago} h ago", labelled=False, rse=rse, hour=ago)
                      for ago in range(23, -1, -1))
        rows.append(f"<tr><th>{html.escape(rse)}</th>{tds}</tr>")
    return "<h2>Last 24 hours per RSE (oldest left)</h2><table id='history'>" + "".join(rows) + "</table>"


def write_report(results_dir: Path, out: Path, now: float | None = None) -> int:
    now = now or time.time()
    records = load(results_dir, now)
    out.write_text(render(records, now))
    return len(records)
