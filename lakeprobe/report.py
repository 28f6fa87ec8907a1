"""`lakeprobe report`: a static status page of one lake (results/status.html, no account needed), from the
records of its last 24 hours in the results directory or the SQL sink.

What a cell means: the latest result of the check from a round that ran it for real. A skip never hides
an earlier finding (it did not run), nor does an ad-hoc run (`--rse`, `-k`, a re-run of one test: only
rounds count); downtime shows as downtime. A result older than the stale age (default 2 h) shows as stale
with its age: no data is never drawn as green or red. Under the grid, the findings in words (check, class,
message, since when). The history per RSE counts only the findings that blame the RSE (lakeprobe/blame.py):
a copy into a broken site does not paint its healthy source red.

The page is lakeprobe/templates/status.html, autoescaped: this module computes what it shows.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from lakeprobe import availability, charts, chat, history
from lakeprobe.records import SEVERITY, Record, Status

# Autoescaped: what a storage said (a message, a title) is text on the page, never markup.
_TEMPLATES = Environment(loader=PackageLoader("lakeprobe"), autoescape=True, undefined=StrictUndefined)

SERVICES = ("issuer", "rucio")  # always shown, "no data" when silent
STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; font-size: 13px; text-align: center; }
td.pass { background: #2e9e44; color: #fff; } td.warn { background: #f2a900; }
td.fail { background: #d0312d; color: #fff; } td.error { background: #7b3fa0; color: #fff; }
td.skip, td.downtime, td.nodata { background: #d9d9d9; color: #555; }
td.stale { background: #eeeeee; color: #777; font-style: italic; }
td.hour { width: 14px; padding: 0; height: 18px; }
#grid th { max-width: 70px; font-size: 11px; word-break: break-word; }
#findings td { text-align: left; }
td.ar { white-space: nowrap; padding-left: 8px; }
"""
LEGEND = (
    ("pass", "pass"),
    ("warn", "warn"),
    ("fail", "fail: the storage misbehaved"),
    ("error", "error: something else broke"),
    ("skip", "skip / downtime: not run"),
    ("stale", "stale: older than the stale age"),
    ("nodata", "no data"),
)


@dataclass
class Report:
    summary: str
    lake: str
    rounds: list[list[Record]]
    notes: list[str]  # what the page says above the grid, and chat says whatever changed: shards missing

    def chat(self, kind: str, webhook: str, confirm: int, results_dir: Path) -> str:
        pending = results_dir / "chat-pending.json"
        return chat.notify(kind, webhook, self.rounds, confirm, self.lake, pending, self.notes)


def write(
    out: Path,
    results_dir: Path,
    sql_url: str | None = None,
    lake: str | None = None,
    stale_after_s: float = 7200,
    now: float | None = None,
    scheduled: str | None = None,
    shards: int = 1,
) -> Report:
    """The page of the last 24 hours. With `scheduled`, the id the scheduler gave the round of `shards`
    shards that just ended: a check that round did not report on shows no data (its shard never delivered),
    not an older round's result, and the page and chat say which shards are missing."""
    now = now or time.time()
    since = history.window(24, now)
    records = history.from_sql(sql_url, since) if sql_url else history.from_results(results_dir, since)
    lakes = history.lakes(records)
    lake = lake or (lakes[0] if lakes else "")
    mine = [r for r in records if r.lake == lake]
    rounds = history.rounds(mine, lake)
    ar, days = availability.per_rse(results_dir, sql_url, lake, now)  # the last 30 days' rounds
    delivered, notes = None, []
    if scheduled:
        delivered = history.scheduled_round(rounds, scheduled)
        missing = history.missing_shards(delivered, shards)
        if missing:
            if len(missing) == shards:
                notes.append(f"round {scheduled}: no shard delivered records: no check of it has data")
            else:
                notes.append(
                    f"round {scheduled}: shard {', '.join(missing)} delivered no records: its checks have no data"
                )
    out.parent.mkdir(parents=True, exist_ok=True)
    others = [x for x in lakes if x != lake]
    out.write_text(render(rounds, lake, others, now, stale_after_s, ar, delivered, notes, days))
    source = "SQL sink" if sql_url else str(results_dir)
    summary = (
        f"report: {out} (lake {lake or '(none)'}: {len(rounds)} rounds, "
        f"{sum(map(len, rounds))} records of the last 24 hours from {source})"
    )
    return Report("\n".join([summary, *notes]), lake, rounds, notes)


def latest_results(rounds: list[list[Record]]) -> dict[tuple, Record]:
    """Per series, the latest record that ran for real; a series that only ever skipped keeps its skip."""
    latest: dict[tuple, Record] = {}
    for records in rounds:
        for r in sorted(records, key=lambda r: r.ts):
            key = r.series
            held = latest.get(key)
            # A check judged by every shard of the round (rucio_events, each over its own rules): the worst.
            other_shard = held is not None and held.run_id == r.run_id and held.shard != r.shard
            if other_shard and SEVERITY.index(latest[key].status) < SEVERITY.index(r.status):
                continue
            if r.status != Status.SKIP or held is None or held.status == Status.SKIP:
                latest[key] = r
    return latest


def since_when(rounds: list[list[Record]], latest: Record) -> float:
    """When the series' current state began: the first of the latest run of records with its status."""
    key = latest.series
    began = latest.ts
    for records in reversed(rounds):
        for r in records:
            if r.series == key and r.status != Status.SKIP:
                if r.status != latest.status:
                    return began
                began = min(began, r.ts)
    return began


def render(
    rounds: list[list[Record]],
    lake: str,
    other_lakes: list[str],
    now: float,
    stale_after_s: float,
    ar: dict[str, availability.Tally] | None = None,
    delivered: list[Record] | None = None,
    notes: list[str] | None = None,
    days: dict[str, list[tuple[str, availability.Tally]]] | None = None,
) -> str:
    latest = latest_results(rounds)
    # With the scheduled round named, what it did not report on keeps its place on the page, as no data.
    reported = {r.series for r in delivered} if delivered is not None else set(latest)
    hidden = {key for key in latest if key not in reported}
    visible = {key: r for key, r in latest.items() if key not in hidden}
    records = [r for rs in rounds for r in rs]
    chain = [r for r in latest.values() if r.suite == "site" and not r.peer]
    copies = [r for r in latest.values() if r.peer and r.suite == "site"]  # rucio_rule_transfer has a peer too
    through_rucio = [r for r in latest.values() if r.suite == "rucio"]
    caches = [r for r in latest.values() if r.suite == "cache"]
    credentials = [r for r in latest.values() if r.suite == "credentials" and not r.peer]
    macaroon_copies = [r for r in latest.values() if r.suite == "credentials" and r.peer]  # columns of the TPC matrix
    every_copy = copies + macaroon_copies
    rses = sorted({r.rse for r in chain + through_rucio} | {r.rse for r in every_copy} | {r.peer for r in every_copy})
    cell = _Cells(now, stale_after_s, hidden)
    newest = max((r.ts for r in records), default=0)
    grids = [_grid(chain, cell, "RSE x check", "grid")]
    if through_rucio:
        grids.append(_grid(through_rucio, cell, "Through Rucio: RSE x check", "rucio-grid"))
    if caches:
        grids.append(_grid(caches, cell, "Caches: cache x check", "cache-grid"))
    if credentials:
        grids.append(_grid(credentials, cell, "Other credentials (X.509, macaroons): RSE x check", "credentials-grid"))
    return _TEMPLATES.get_template("status.html").render(
        style=Markup(STYLE),  # ours, constant: CSS, not text
        lake=lake,
        rounds=len(rounds),
        last=_ago(now - newest) if newest else "never",
        as_of=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now)),
        stale_hours=f"{stale_after_s / 3600:g}",
        other_lakes=other_lakes,
        notes=notes or [],
        legend=LEGEND,
        services=_services(visible, records, rses, cell),
        grids=grids,
        findings=_findings(visible, rounds, now),
        tpc=_matrix(every_copy, rses, cell),
        heatmap=charts.throughput_heatmap(rses, [r for r in copies if cell.current(r)]) if copies else None,
        history=_history(records, rses, now, ar or {}, days or {}),
    )


class _Cells:
    def __init__(self, now: float, stale_after_s: float, hidden: set[tuple] | None = None):
        self.now, self.stale_after_s, self.hidden = now, stale_after_s, hidden or set()

    def current(self, r: Record) -> bool:
        """Shown as it is: neither hidden (its shard of the scheduled round sent nothing) nor stale."""
        return r.series not in self.hidden and self.now - r.ts <= self.stale_after_s

    def of(self, r: Record | None, status: str | None = None, **data) -> dict:
        """A cell of the template: css class, status, title, label and data-* attributes."""
        if r is not None and r.series in self.hidden:
            r, status = None, None
        status = status or (str(r.status) if r else "nodata")
        title, css, label = "", status, ("no data" if status == "nodata" else status)
        if r is not None:
            title = f"{r.error_class} {r.message}".strip() + f" ({_ago(self.now - r.ts)})"
            if self.now - r.ts > self.stale_after_s:
                css, label = "stale", f"{status}, {_ago(self.now - r.ts)}"
                data["stale"] = "yes"
        return {"css": css, "status": status, "title": title, "label": label, "data": data}


def _worst(statuses) -> str:
    found = {str(s) for s in statuses}
    return next((s for s in SEVERITY if s in found), "nodata")


def _services(latest, records, rses, cell: _Cells) -> list[tuple[str, dict]]:
    rows = []
    names = list(SERVICES) + sorted({r.rse for r in latest.values() if r.suite == "services"} - set(SERVICES))
    for name in names:
        own = [r for r in latest.values() if r.suite == "services" and r.rse == name]
        blamed = [r for r in latest.values() if r.blame == name and r.suite != "services"]
        newest = max(own + blamed, key=lambda r: r.ts, default=None)
        status = _worst(r.status for r in own + blamed) if own + blamed else None
        rows.append((name, cell.of(newest, status, component=name)))
    storage = [r for r in latest.values() if r.suite in ("site", "credentials") and r.blame not in SERVICES]
    newest = max(storage, key=lambda r: r.ts, default=None)
    status = _worst(r.status for r in storage) if storage else None
    if status in (None, "pass") and any(key[0] == "site" for key in cell.hidden):
        status = "nodata"  # part of the storage went unchecked: no green over what nobody looked at
    rows.append((f"storage ({len(rses)} RSEs)", cell.of(newest, status, component="storage")))
    return rows


def _grid(chain, cell: _Cells, title: str, table_id: str) -> dict:
    checks = list(dict.fromkeys(r.check for r in sorted(chain, key=lambda r: r.ts)))
    by_row: dict[tuple, dict] = defaultdict(dict)
    for r in chain:
        by_row[r.grid_row][r.check] = r
    rows = [
        (f"{rse} {protocol}", [cell.of(cells.get(c), rse=rse, protocol=protocol, check=c) for c in checks])
        for (rse, protocol), cells in sorted(by_row.items())
    ]
    return {"title": title, "id": table_id, "checks": checks, "rows": rows}


def _findings(latest, rounds, now) -> list[dict]:
    found = sorted(
        (r for r in latest.values() if r.is_finding),
        key=lambda r: (SEVERITY.index(str(r.status)), r.rse, r.peer, r.check),
    )
    return [
        {
            "check": r.check,
            "rse": r.rse,
            "peer": r.peer,
            "what": f"{r.rse + ('->' + r.peer if r.peer else '')} {r.grid_row[1]} {r.mode}",
            "status": r.status,
            "error_class": r.error_class,
            "blame": r.blame,
            "message": r.message,
            "hint": r.hint,
            "since": _ago(now - since_when(rounds, r)),
        }
        for r in found
    ]


def _matrix(copies, rses, cell: _Cells) -> dict:
    modes = list(dict.fromkeys(f"{r.protocol} {r.mode}" for r in copies))
    by_pair = {(r.rse, r.peer, f"{r.protocol} {r.mode}"): r for r in copies}
    rows = [
        (
            source,
            [
                None
                if source == destination
                else cell.of(
                    by_pair.get((source, destination, mode)),
                    source=source,
                    destination=destination,
                    mode=mode.split()[1],
                )
                for destination in rses
                for mode in modes
            ],
        )
        for source in rses
    ]
    return {"rses": rses, "modes": modes, "rows": rows}


def _history(records, rses, now, ar: dict[str, availability.Tally], days: dict[str, list]) -> dict:
    """Per RSE and hour: the worst finding that blames it, else a pass if it took part in anything that ran;
    findings blamed on a pair get rows of their own. Last, the RSE's availability and reliability over 30
    days (lakeprobe/availability.py), and its availability per day as a chart."""
    hours: dict[tuple, list] = defaultdict(list)
    pairs = sorted({r.blame for r in records if "->" in r.blame})
    for r in records:
        ago = int((now - r.ts) // 3600)
        if r.is_finding and r.blame:
            hours[(r.blame, ago)].append(r.status)
        for rse in {r.rse, r.peer} - {""}:
            if r.status in (Status.PASS, Status.WARN, Status.FAIL, Status.ERROR):
                hours[(rse, ago)].append(Status.PASS)
    rows = [
        (
            who + (" (pair)" if "->" in who else ""),
            [_hour(_worst(hours.get((who, ago), [])), who, ago) for ago in range(23, -1, -1)],
            None if "->" in who else _ar(ar, who),
            None if "->" in who else charts.availability_chart(who, days.get(who, [])),
        )
        for who in list(rses) + pairs
    ]
    labels = [f"-{a}h" if a % 6 == 0 else "" for a in range(23, -1, -1)]
    return {"labels": labels, "rows": rows}


def _hour(status: str, who: str, ago: int) -> dict:
    return {"css": f"hour {status}", "status": status, "title": f"{ago} h ago: {status}", "label": "",
            "data": {"rse": who, "hour": ago}}  # fmt: skip


def _ar(ar: dict[str, availability.Tally], who: str) -> dict:
    tally = ar.get(who) or availability.Tally()
    a, r = availability.percent(tally.availability), availability.percent(tally.reliability)
    nodata = tally.availability is None
    return {
        "css": "ar nodata" if nodata else "ar",
        "status": "",
        "title": f"unknown {tally.unknown / 3600:.1f} h",
        "label": "no data" if nodata else f"{a} / {r}",
        "data": {"rse": who, "availability": a, "reliability": r},
    }


def _ago(seconds: float) -> str:
    seconds = max(0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
