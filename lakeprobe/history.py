"""The lake's recent records, from the results directory's JSONL files or from the SQL sink, as the status
page, chat and availability figures read them: one lake at a time, rounds apart from ad-hoc runs."""

import datetime
import time
from collections import defaultdict
from pathlib import Path

from lakeprobe import schema
from lakeprobe.records import Record, read_jsonl

DAY_S = 24 * 3600


def from_results(results_dir: Path, since: float) -> list[Record]:
    records = []
    for path in sorted(results_dir.glob("*.jsonl")):
        if path.stat().st_mtime >= since:
            records += [r for r in read_jsonl(path) if r.ts >= since]
    return sorted(records, key=lambda r: r.ts)


def from_sql(url: str, since: float) -> list[Record]:
    """The SQL sink's rows since `since` (the same table the sink writes; lakeprobe/schema.py)."""
    import psycopg

    columns = [c for c in schema.SQL_COLUMNS if c not in ("key", "state")]
    with psycopg.connect(url, connect_timeout=10) as db:
        rows = db.execute(
            f"SELECT {', '.join(chr(34) + c + chr(34) for c in columns)} FROM {schema.TABLE} "
            "WHERE time >= %s ORDER BY time",
            (datetime.datetime.fromtimestamp(since, datetime.UTC),),
        ).fetchall()
    records = []
    for row in rows:
        values = dict(zip(columns, row))
        values["ts"] = values.pop("time").timestamp()
        values["throughput_Bps"] = values.pop("throughput_bps")
        records.append(Record.from_dict(values))
    return records


def lakes(records: list[Record]) -> list[str]:
    """The lakes in these records, the one with the newest record first."""
    newest: dict[str, float] = {}
    for r in records:
        newest[r.lake] = max(newest.get(r.lake, 0), r.ts)
    return sorted(newest, key=lambda lake: -newest[lake])


def rounds(records: list[Record], lake: str) -> list[list[Record]]:
    """The lake's rounds, oldest first; ad-hoc runs are left out."""
    by_run: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.lake == lake and r.run_kind == "round":
            by_run[r.run_id].append(r)
    return sorted(by_run.values(), key=lambda rs: min(r.ts for r in rs))


def window(hours: float = 24, now: float | None = None) -> float:
    return (now or time.time()) - hours * 3600
