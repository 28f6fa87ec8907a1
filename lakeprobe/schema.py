"""What the sinks write: one InfluxDB point, one SQL row or one MONIT document per record, described once here
(README, "Sinks"). InfluxDB: measurement `lakeprobe_check`; tags lake, run_kind, suite, check, rse, protocol,
peer, mode, blame, shard, family (empty tags are left out); fields status, state, error_class, message, run_id,
address, implementation, hint, duration_s, bytes, throughput_Bps, attempts; the time is the record's, in
microseconds. A point is identified by its tags and time, so writing a record twice stores it once: replays
never duplicate. run_id is a field, not a tag: a tag per run would grow a new series every hour. SQL (any
SQLAlchemy dialect): table `lakeprobe_check`, one column per field, primary key `key` (Record.key); columns
added in later versions are added to an existing table. MONIT: a JSON document per record with MONIT's
`producer`, `type`, `timestamp` (ms) and `_id` (from the key).
"""

import datetime
import functools
import hashlib

from lakeprobe.hints import HINT_CHARS, IMPLEMENTATION_CHARS
from lakeprobe.records import Record, Status

MEASUREMENT = TABLE = "lakeprobe_check"
TAGS = ("lake", "run_kind", "suite", "check", "rse", "protocol", "peer", "mode", "blame", "shard", "family")
STRING_FIELDS = ("status", "error_class", "message", "run_id", "address", "implementation", "hint")
NUMBER_FIELDS = ("duration_s", "bytes", "throughput_Bps", "attempts")
# A number per status, for panels that colour by value: the worse, the higher, so that max() over an hour is
# its worst finding; the neutral states are below pass, so they show only when nothing else ran.
STATE = {Status.DOWNTIME: -2, Status.SKIP: -1, Status.PASS: 0, Status.WARN: 1, Status.ERROR: 2, Status.FAIL: 3}
FIELDS = STRING_FIELDS + NUMBER_FIELDS + ("state",)

SQL_COLUMNS = (
    "key",
    "time",
    "run_id",
    "lake",
    "run_kind",
    "suite",
    "check",
    "rse",
    "protocol",
    "peer",
    "mode",
    "status",
    "state",
    "error_class",
    "message",
    "blame",
    "duration_s",
    "bytes",
    "throughput_bps",
    "attempts",
    "shard",
    "family",
    "address",
    "implementation",
    "hint",
)
# Where a column is empty ('') for most records. Oracle stores '' as NULL, so these columns take NULL
# everywhere; readers turn NULL back into ''.
SQL_MAY_BE_EMPTY = (
    *("lake", "rse", "protocol", "peer", "mode", "error_class", "message", "blame"),
    *("shard", "family", "address", "implementation", "hint"),
)
# Columns a first version's table lacks, with what its rows get when they are added (they were rounds).
SQL_ADDED_LATER = {
    **{"lake": "", "run_kind": "round", "blame": "", "shard": "", "family": "", "address": ""},
    **{"implementation": "", "hint": ""},
}
# Primary key: MariaDB's InnoDB indexes at most 3072 bytes, 768 characters of utf8mb4.
KEY_LENGTH = 768
NAME_LENGTH = 255  # an RSE, a check, a lake


@functools.cache
def sql_table():
    """The SQL sink's table as SQLAlchemy Core describes it, for every dialect. Types chosen to exist
    everywhere: bounded strings (MariaDB cannot index TEXT, Oracle's CLOB cannot be a key), the message as
    TEXT/CLOB. SQLAlchemy is imported here, when a SQL sink is used, not by every command."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql

    class UtcTime(sa.types.TypeDecorator):
        """The record's time: timestamptz on PostgreSQL (as the first versions made it); elsewhere a timestamp
        without zone, in UTC, to the microsecond (MariaDB's DATETIME(6); Oracle's TIMESTAMP: its driver binds
        no zone). Read back as an aware UTC datetime everywhere."""

        impl = sa.DateTime
        cache_ok = True

        def load_dialect_impl(self, dialect):
            if dialect.name == "postgresql":
                return dialect.type_descriptor(sa.TIMESTAMP(timezone=True))
            if dialect.name in ("mysql", "mariadb"):
                return dialect.type_descriptor(mysql.DATETIME(fsp=6))
            return dialect.type_descriptor(sa.TIMESTAMP())

        def process_bind_param(self, value, dialect):
            if value is None or dialect.name == "postgresql":
                return value
            return value.astimezone(datetime.UTC).replace(tzinfo=None)

        def process_result_value(self, value, dialect):
            if value is None:
                return value
            return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value.astimezone(datetime.UTC)

    columns: dict[str, sa.Column] = {
        "key": sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
        "time": sa.Column("time", UtcTime(), nullable=False),
        "run_id": sa.Column("run_id", sa.String(NAME_LENGTH), nullable=False),
        "lake": sa.Column("lake", sa.String(NAME_LENGTH), server_default=SQL_ADDED_LATER["lake"]),
        "run_kind": sa.Column("run_kind", sa.String(16), nullable=False, server_default=SQL_ADDED_LATER["run_kind"]),
        "suite": sa.Column("suite", sa.String(NAME_LENGTH), nullable=False),
        "check": sa.Column("check", sa.String(NAME_LENGTH), nullable=False),
        "rse": sa.Column("rse", sa.String(NAME_LENGTH)),
        "protocol": sa.Column("protocol", sa.String(16)),
        "peer": sa.Column("peer", sa.String(NAME_LENGTH)),
        "mode": sa.Column("mode", sa.String(16)),
        "status": sa.Column("status", sa.String(16), nullable=False),
        "state": sa.Column("state", sa.SmallInteger, nullable=False),
        "error_class": sa.Column("error_class", sa.String(32)),
        "message": sa.Column("message", sa.Text),
        "blame": sa.Column("blame", sa.String(2 * NAME_LENGTH + 2), server_default=SQL_ADDED_LATER["blame"]),
        "duration_s": sa.Column("duration_s", sa.Double, nullable=False),
        "bytes": sa.Column("bytes", sa.BigInteger, nullable=False),
        "throughput_bps": sa.Column("throughput_bps", sa.Double, nullable=False),
        "attempts": sa.Column("attempts", sa.Integer, nullable=False),
        "shard": sa.Column("shard", sa.String(16), server_default=SQL_ADDED_LATER["shard"]),
        "family": sa.Column("family", sa.String(8), server_default=SQL_ADDED_LATER["family"]),
        "address": sa.Column("address", sa.String(64), server_default=SQL_ADDED_LATER["address"]),
        "implementation": sa.Column(
            "implementation", sa.String(IMPLEMENTATION_CHARS), server_default=SQL_ADDED_LATER["implementation"]
        ),
        "hint": sa.Column("hint", sa.String(HINT_CHARS), server_default=SQL_ADDED_LATER["hint"]),
    }
    return sa.Table(
        TABLE,
        sa.MetaData(),
        *(columns[c] for c in SQL_COLUMNS),
        sa.Index(f"{TABLE}_time", "time"),
        sa.Index(f"{TABLE}_run", "run_id"),
        # Messages are UTF-8 (servers' own words): MariaDB/MySQL servers may still default to latin1.
        mysql_charset="utf8mb4",
        mariadb_charset="utf8mb4",
    )


def create_or_extend(db) -> list[str]:
    """Creates the table where it is missing; adds to an existing one the columns later versions brought
    (ALTER TABLE ... ADD, which every dialect takes without the word COLUMN). Returns the columns added."""
    import sqlalchemy as sa
    from sqlalchemy.schema import CreateColumn

    table = sql_table()
    table.metadata.create_all(db, checkfirst=True)
    present = {c["name"].lower() for c in sa.inspect(db).get_columns(TABLE)}
    added = [c for c in table.columns if c.name.lower() not in present]
    for column in added:
        db.execute(sa.text(f"ALTER TABLE {TABLE} ADD {CreateColumn(column).compile(dialect=db.dialect)}"))
    return [c.name for c in added]


def micros(record: Record) -> int:
    return int(round(record.ts * 1e6))


def line(record: Record) -> str:
    """The record in InfluxDB line protocol, precision microseconds."""
    tags = "".join(f",{t}={_escape_tag(getattr(record, t))}" for t in TAGS if getattr(record, t))
    strings = [f'{f}="{_escape_string(getattr(record, f))}"' for f in STRING_FIELDS]
    numbers = [f"{f}={float(getattr(record, f))}" for f in ("duration_s", "throughput_Bps")]
    integers = [f"{f}={int(getattr(record, f))}i" for f in ("bytes", "attempts")] + [f"state={STATE[record.status]}i"]
    return f"{MEASUREMENT}{tags} {','.join(strings + numbers + integers)} {micros(record)}"


def row(record: Record) -> dict:
    """The record as the SQL table's row (SQL_COLUMNS)."""
    return {
        "key": record.key,
        "time": datetime.datetime.fromtimestamp(record.ts, datetime.UTC),
        "run_id": record.run_id,
        "lake": record.lake,
        "run_kind": record.run_kind,
        "suite": record.suite,
        "check": record.check,
        "rse": record.rse,
        "protocol": record.protocol,
        "peer": record.peer,
        "mode": record.mode,
        "status": str(record.status),
        "state": STATE[record.status],
        "error_class": str(record.error_class),
        "message": record.message,
        "blame": record.blame,
        "duration_s": record.duration_s,
        "bytes": record.bytes,
        "throughput_bps": record.throughput_Bps,
        "attempts": record.attempts,
        "shard": record.shard,
        "family": record.family,
        "address": record.address,
        "implementation": record.implementation,
        "hint": record.hint,
    }


def from_row(values: dict) -> Record:
    """A record read back from the SQL table (NULL where a dialect stored '' is '' again)."""
    values = {k: ("" if v is None and k in SQL_MAY_BE_EMPTY else v) for k, v in values.items()}
    values.pop("key", None)
    values.pop("state", None)
    values["ts"] = values.pop("time").timestamp()
    values["throughput_Bps"] = values.pop("throughput_bps")
    return Record.from_dict(values)


def monit_document(record: Record, producer: str, doc_type: str, host: str) -> dict:
    """The record as a CERN MONIT document: MONIT's fields (`producer`, `type`, `type_prefix`, `timestamp` in
    UTC milliseconds without a fraction, `_id`, `host`), then the record's own. `_id` is a hash of the
    record's key: a record delivered twice is one document where MONIT keeps documents by their ID."""
    fields = record.to_dict()
    ts = fields.pop("ts")
    return {
        "producer": producer,
        "type": doc_type,
        "type_prefix": "raw",
        "timestamp": int(round(ts * 1000)),
        "_id": hashlib.sha256(record.key.encode()).hexdigest()[:32],
        "host": host,
        **fields,
        "state": STATE[record.status],
    }


def _escape_tag(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_string(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
