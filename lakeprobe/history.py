"""The lake's recent records, from the results directory's JSONL files or from the SQL sink, as the status
page, chat and availability figures read them: one lake at a time, rounds apart from ad-hoc runs."""

import datetime
import time
from collections import defaultdict
from pathlib import Path

from lakeprobe import schema
from lakeprobe.records import Record, read_jsonl, same_round

DAY_S = 24 * 3600


def from_results(results_dir: Path, since: float) -> list[Record]:
    records = []
    for path in sorted(results_dir.glob("*.jsonl")):
        if path.stat().st_mtime >= since:
            records += [r for r in read_jsonl(path) if r.ts >= since]
    return sorted(records, key=lambda r: r.ts)


def from_sql(url: str, since: float, chain_checks: tuple[str, ...] = ()) -> list[Record]:
    """The SQL sink's rows since `since` (the same table the sink writes; lakeprobe/schema.py), through
    SQLAlchemy, for any dialect the sink takes. With `chain_checks`, only those checks of the site suite's
    own chain (no peer): what availability needs, a small part of the table."""
    import sqlalchemy as sa

    from lakeprobe.sql import sql_engine

    table = schema.sql_table()
    query = sa.select(*(table.c[c] for c in schema.SQL_COLUMNS if c not in ("key", "state"))).where(
        table.c.time >= datetime.datetime.fromtimestamp(since, datetime.UTC)
    )
    if chain_checks:
        query = query.where(
            table.c.suite == "site",
            table.c.check.in_(chain_checks),
            sa.or_(table.c.peer == "", table.c.peer.is_(None)),  # Oracle keeps '' as NULL
        )
    engine = sql_engine(url)
    try:
        with engine.connect() as db:
            rows = db.execute(query.order_by(table.c.time)).mappings().all()
    finally:
        engine.dispose()
    return [schema.from_row(dict(row)) for row in rows]


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


def scheduled_round(rounds: list[list[Record]], given: str) -> list[Record]:
    """The records of the round the scheduler called `given` (a pipeline id, a Job's name), over its shards."""
    return [r for rs in rounds for r in rs if same_round(r.run_id, given)]


def missing_shards(records: list[Record], shards: int) -> list[str]:
    """The shards ("K/N") of a round of `shards` shards that delivered no record."""
    if shards == 1:
        return [] if records else ["1/1"]
    seen = {r.shard for r in records}
    return [f"{k}/{shards}" for k in range(1, shards + 1) if f"{k}/{shards}" not in seen]


def window(hours: float = 24, now: float | None = None) -> float:
    return (now or time.time()) - hours * 3600
