"""Availability and reliability of each RSE, as WLCG computes them, from the lake's rounds alone (README,
"Availability and reliability").

What a round says of an RSE, per protocol, from its chain checks (suite `site`, no peer, `connection` ..
`stat_after_delete`):
- downtime: the RSE was in declared downtime (its checks are recorded as `downtime`): scheduled downtime;
- down: a chain check failed or erred and its blame names the RSE;
- unknown: the chain could not be judged: a finding blamed on something else (the token issuer, lakeprobe)
  says nothing about the storage, and a chain of skips measured nothing;
- up: otherwise, when a chain check passed or warned (a warning is up, as in WLCG).
Over all its protocols, the RSE is in downtime if any protocol was, else down if any was, else up if any was,
else unknown. Copies, token checks and throughput are not part of it: the status page shows them.

Time: a round starts at its earliest chain record, and its result holds until the next round of the lake
starts, for at most `validity_s` (default 2 h); past that, or before the first round, the RSE is unknown.
Unknown time is not measured: it is shown, and left out of both figures:
    availability = up / (up + down + downtime)        reliability = up / (up + down)
"""

import csv
import datetime
import io
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from lakeprobe import history
from lakeprobe.records import Record, Status

CHAIN = ("connection", "mkdir", "upload", "stat", "checksum", "download", "list", "delete", "stat_after_delete")
ALL = "all"  # the protocol column of an RSE over all its protocols
DAY_S = 24 * 3600
VALIDITY_S = 2 * 3600  # the status page's stale age: an hourly round may be late or missed once
PERIOD_S = 30 * DAY_S


class State(StrEnum):
    UP = "up"
    DOWN = "down"
    DOWNTIME = "downtime"
    UNKNOWN = "unknown"


@dataclass
class Tally:
    """Seconds in each state."""

    up: float = 0.0
    down: float = 0.0
    downtime: float = 0.0
    unknown: float = 0.0

    def add(self, state: State, seconds: float):
        setattr(self, str(state), getattr(self, str(state)) + seconds)

    @property
    def measured(self) -> float:
        return self.up + self.down + self.downtime

    @property
    def availability(self) -> float | None:
        """None when nothing was measured: no data is not a figure."""
        return self.up / self.measured if self.measured else None

    @property
    def reliability(self) -> float | None:
        return self.up / (self.up + self.down) if self.up + self.down else None


@dataclass
class Figures:
    lake: str
    since: float
    until: float
    validity_s: float
    rounds: int
    period: dict[tuple[str, str], Tally] = field(default_factory=dict)  # (rse, protocol or ALL)
    days: dict[tuple[str, str, str], Tally] = field(default_factory=dict)  # (rse, protocol or ALL, YYYY-MM-DD)

    def day_names(self) -> list[str]:
        return [_day(t) for t in range(int(self.since // DAY_S) * DAY_S, int(self.until), DAY_S)]


def is_chain(record: Record) -> bool:
    """A record of the storage chain as the lake's clients run it (a chain forced to one address family by
    --per-address is a diagnosis on top, not part of the figures)."""
    return record.suite == "site" and not record.peer and record.check in CHAIN and not record.pinned_family


def protocol_state(records: list[Record]) -> State:
    """One round's state of one RSE in one protocol, from its chain records."""
    if any(r.status == Status.DOWNTIME for r in records):
        return State.DOWNTIME
    failed = [r for r in records if r.status in (Status.FAIL, Status.ERROR)]
    if any(r.blame == r.rse for r in failed):
        return State.DOWN
    if failed:  # the chain broke on something else: the storage was not judged
        return State.UNKNOWN
    if any(r.status in (Status.PASS, Status.WARN) for r in records):
        return State.UP
    return State.UNKNOWN


def combined(states: list[State]) -> State:
    """An RSE over its protocols."""
    return next((s for s in (State.DOWNTIME, State.DOWN, State.UP) if s in states), State.UNKNOWN)


def round_states(records: list[Record]) -> dict[tuple[str, str], State]:
    """(rse, protocol) and (rse, ALL) -> the round's state, from the round's records."""
    chains: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        if is_chain(r):
            chains[(r.rse, r.protocol)].append(r)
    states = {key: protocol_state(rs) for key, rs in chains.items()}
    for rse in {rse for rse, _ in states}:
        states[(rse, ALL)] = combined([s for (r, _), s in states.items() if r == rse])
    return states


def compute(records: list[Record], lake: str, since: float, until: float, validity_s: float = VALIDITY_S) -> Figures:
    """The lake's figures over [since, until), per RSE and protocol, per UTC day and over the period."""
    rounds = history.rounds([r for r in records if is_chain(r)], lake)
    starts = [min(r.ts for r in rs) for rs in rounds]
    states = [round_states(rs) for rs in rounds]
    series = sorted({key for s in states for key in s})
    figures = Figures(lake, since, until, validity_s, sum(since <= t < until for t in starts))
    for key in series:
        figures.period[key] = Tally()
        for day in figures.day_names():
            figures.days[(*key, day)] = Tally()
    for i, start in enumerate(starts):
        following = starts[i + 1] if i + 1 < len(starts) else until
        stop = min(following, start + validity_s, until)
        begin = max(start, since)
        if stop <= begin:
            continue
        for key in series:
            _attribute(figures, key, states[i].get(key, State.UNKNOWN), begin, stop)
    for key in series:  # what no round covered
        for day in figures.day_names():
            tally = figures.days[(*key, day)]
            day_start = datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC).timestamp()
            length = min(day_start + DAY_S, until) - max(day_start, since)
            uncovered = length - tally.measured - tally.unknown
            tally.unknown += uncovered
            figures.period[key].unknown += uncovered
    return figures


def _attribute(figures: Figures, key: tuple[str, str], state: State, begin: float, stop: float):
    """[begin, stop) in `state`, split at UTC midnights."""
    figures.period[key].add(state, stop - begin)
    while begin < stop:
        midnight = (begin // DAY_S + 1) * DAY_S
        end = min(midnight, stop)
        figures.days[(*key, _day(begin))].add(state, end - begin)
        begin = end


def _day(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d")


def load(
    results_dir: Path,
    sql_url: str | None,
    lake: str | None,
    since: float,
    until: float,
    validity_s: float = VALIDITY_S,
) -> Figures:
    """The figures of `lake` (default: the lake of the newest records) from the SQL sink or the JSONL files.
    Records from `validity_s` before `since` are read too: the round before the period covers its start."""
    read_since = since - validity_s
    if sql_url:
        records = history.from_sql(sql_url, read_since, chain_checks=CHAIN)
    else:
        records = [r for r in history.from_results(results_dir, read_since) if is_chain(r)]
    lakes = history.lakes([r for r in records if r.run_kind == "round"])
    return compute(records, lake or (lakes[0] if lakes else ""), since, until, validity_s)


def per_rse(
    results_dir: Path, sql_url: str | None, lake: str, now: float | None = None
) -> tuple[dict[str, Tally], dict[str, list[tuple[str, Tally]]]]:
    """Each RSE's tally over the last 30 days, all protocols, and its tally per UTC day of them: the status
    page's A/R column and chart."""
    now = now or time.time()
    figures = load(results_dir, sql_url, lake, now - PERIOD_S, now)
    period = {rse: tally for (rse, protocol), tally in figures.period.items() if protocol == ALL}
    days = {rse: [(day, figures.days[(rse, ALL, day)]) for day in figures.day_names()] for rse in period}
    return period, days


def percent(value: float | None) -> str:
    return "no data" if value is None else f"{100 * value:.1f}%"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 360 else f"{seconds:.0f} s"


def _rows(figures: Figures) -> list[dict]:
    """Per RSE and protocol (ALL first), the period, then each day."""
    keys = sorted(figures.period, key=lambda k: (k[0], k[1] != ALL, k[1]))
    rows = []
    for rse, protocol in keys:
        spans = [("period", figures.period[(rse, protocol)])]
        spans += [(day, figures.days[(rse, protocol, day)]) for day in figures.day_names()]
        for span, tally in spans:
            rows.append(
                {
                    "rse": rse,
                    "protocol": protocol,
                    "span": span,
                    "availability": tally.availability,
                    "reliability": tally.reliability,
                    "up_s": round(tally.up, 3),
                    "down_s": round(tally.down, 3),
                    "downtime_s": round(tally.downtime, 3),
                    "unknown_s": round(tally.unknown, 3),
                }
            )
    return rows


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def as_json(figures: Figures) -> str:
    return (
        json.dumps(
            {
                "lake": figures.lake,
                "since": _iso(figures.since),
                "until": _iso(figures.until),
                "since_ts": figures.since,
                "until_ts": figures.until,
                "validity_s": figures.validity_s,
                "rounds": figures.rounds,
                "rows": _rows(figures),
            },
            indent=1,
        )
        + "\n"
    )


def as_csv(figures: Figures) -> str:
    out = io.StringIO()
    columns = ["lake", "rse", "protocol", "span", "availability", "reliability"]
    columns += ["up_s", "down_s", "downtime_s", "unknown_s"]
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for row in _rows(figures):
        ratios = {k: "" if row[k] is None else f"{row[k]:.6f}" for k in ("availability", "reliability")}
        writer.writerow({"lake": figures.lake, **row, **ratios})
    return out.getvalue()


def as_table(figures: Figures) -> str:
    """The period per RSE and protocol, then availability per day (`-`: no data that day)."""
    head = (
        f"availability of lake {figures.lake or '(none)'} from {_iso(figures.since)} to {_iso(figures.until)}: "
        f"{figures.rounds} rounds; a round holds until the next, {_hours(figures.validity_s)} at most"
    )
    if not figures.period:
        return head + "\nno round of this lake in the period\n"
    keys = sorted(figures.period, key=lambda k: (k[0], k[1] != ALL, k[1]))
    width = max(len("RSE"), *(len(rse) for rse, _ in keys)) + 2
    lines = [
        head,
        f"{'RSE':<{width}}{'proto':<7}{'avail.':>9}{'reliab.':>9}{'up':>10}{'down':>10}{'downtime':>10}{'unknown':>10}",
    ]
    for rse, protocol in keys:
        t = figures.period[(rse, protocol)]
        lines.append(
            f"{rse:<{width}}{protocol:<7}{percent(t.availability):>9}{percent(t.reliability):>9}"
            f"{_hours(t.up):>10}{_hours(t.down):>10}{_hours(t.downtime):>10}{_hours(t.unknown):>10}"
        )
    days = figures.day_names()
    lines += [
        "",
        f"availability per UTC day, {days[0]} to {days[-1]} (%; -: no data)",
        f"{'day':<{width + 7}}" + "".join(f"{d[8:]:>3} " for d in days),
    ]
    for rse, protocol in keys:
        cells = [figures.days[(rse, protocol, day)].availability for day in days]
        lines.append(
            f"{rse:<{width}}{protocol:<7}" + "".join(f"{'-' if a is None else f'{100 * a:.0f}':>3} " for a in cells)
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


FORMATS = {"table": as_table, "csv": as_csv, "json": as_json}
