"""The end-of-run summary for a terminal of a given width: one line per RSE (or service) and protocol with
one mark per check, grouped by family, the copies it took part in as counts, then the findings one per line
(what, status, class, message). Nothing is wider than the terminal."""

import textwrap
from collections import defaultdict

from lakeprobe.records import SEVERITY, Record, Status

MARKS = {
    Status.PASS: ".",
    Status.WARN: "W",
    Status.FAIL: "F",
    Status.ERROR: "E",
    Status.SKIP: "s",
    Status.DOWNTIME: "D",
}
LEGEND = ". pass  W warn  F fail  E error  s skip  D downtime;  n/m: worst mark, passed of checks"


def lines(
    records: list[Record], families: dict[str, str], width: int = 100, order: list[str] | None = None
) -> list[str]:
    """The summary: a block per suite (one row per RSE or service and protocol), the findings, the counts;
    `order` is the order of the families' columns (else first seen, first shown)."""
    width = max(40, width)
    out = []
    for suite in dict.fromkeys(r.suite for r in records):
        out += _block([r for r in records if r.suite == suite], families, width, order or [])
    if out:
        out.append(_fit(LEGEND, width))
    findings = sorted(
        (r for r in records if r.is_finding),
        key=lambda r: (SEVERITY.index(r.status), r.rse, r.peer, r.grid_row[1], r.check),
    )
    if findings:
        out.append(f"findings ({len(findings)}):")
        for r in findings:
            out.append(_fit("  " + finding(r), width))
            out += [_fit(line, width) for line in _hint_lines(r.hint, width)]
    counts: dict[Status, int] = defaultdict(int)
    for r in records:
        counts[r.status] += 1
    out.append(f"{len(records)} checks: " + ", ".join(f"{counts[s]} {s}" for s in SEVERITY if counts[s]))
    return out


def _block(records: list[Record], families: dict[str, str], width: int, order_of: list[str]) -> list[str]:
    rows: dict[tuple[str, str], dict[str, dict[str, Status]]] = defaultdict(lambda: defaultdict(dict))
    copies: dict[tuple[str, str], dict[str, list[Status]]] = defaultdict(lambda: defaultdict(list))
    order: list[str] = []
    for r in records:
        if r.peer:
            copies[(r.rse, r.protocol)]["copies out"].append(r.status)
            copies[(r.peer, r.protocol)]["copies in"].append(r.status)
            continue
        family = families.get(r.check, r.suite)
        rows[r.grid_row][family][r.check] = r.status
        if family not in order:
            order.append(family)
    order.sort(key=lambda f: order_of.index(f) if f in order_of else len(order_of))
    columns = order + [c for c in ("copies out", "copies in") if any(c in v for v in copies.values())]
    for compact in (False, True):  # one mark per check; when that is too wide, one count per family
        cells = {
            key: {
                **{f: _marks(list(rows[key][f].values()), compact) for f in order if f in rows[key]},
                **{c: _marks(s, True) for c, s in copies[key].items()},
            }
            for key in sorted(set(rows) | set(copies))
        }
        name_w = max(len("RSE"), *(len(k[0]) for k in cells))  # never cut: two names may share a beginning
        proto_w = max(len("proto"), *(len(k[1]) for k in cells))
        widths = {c: max(len(c), *(len(v.get(c, "")) for v in cells.values())) for c in columns}
        block = [f"{'RSE':<{name_w}} {'proto':<{proto_w}}  " + "  ".join(f"{c:<{widths[c]}}" for c in columns)]
        block += [
            (
                f"{rse:<{name_w}} {protocol:<{proto_w}}  "
                + "  ".join(f"{values.get(c, '-'):<{widths[c]}}" for c in columns)
            ).rstrip()
            for (rse, protocol), values in cells.items()
        ]
        if compact or max(map(len, block)) <= width:
            return [_fit(line, width) for line in block]
    return []


def finding(r: Record) -> str:
    what = f"{r.rse}->{r.peer} {r.protocol} {r.mode}" if r.peer else " ".join(r.grid_row).strip()
    kind = f"{r.status} {r.error_class}".strip()
    if r.peer:  # a copy names whom it blames
        return f"{what} {r.check}: {kind}: {r.message}" + (f" [blame {r.blame}]" if r.blame else "")
    if r.blame and r.blame not in (r.rse, "lakeprobe"):  # not its own row's fault (a cache's origin), up front
        kind += f" [blame {r.blame}]"
    return f"{what} {r.check}: {kind}: {r.message}"


def _hint_lines(hint: str, width: int) -> list[str]:
    """A finding's remedy under it, wrapped rather than cut: the end of a remedy is often the point."""
    return textwrap.wrap(hint, width, initial_indent="    hint: ", subsequent_indent="          ")[:4]


def _marks(statuses: list[Status], compact: bool) -> str:
    if not compact:
        return "".join(MARKS[s] for s in statuses)
    worst = next(s for s in SEVERITY if s in statuses)
    return f"{MARKS[worst]} {statuses.count(Status.PASS) + statuses.count(Status.WARN)}/{len(statuses)}"


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."
