"""What the sinks write: one InfluxDB point or one SQL row per record, described once here (README, "Sinks").

InfluxDB: measurement `lakeprobe_check`; tags lake, run_kind, suite, check, rse, protocol, peer, mode, blame
(empty tags are left out); fields status, state, error_class, message, run_id, duration_s, bytes,
throughput_Bps, attempts; the time is the record's, in microseconds. A point is identified by its tags and
time, so writing a record twice stores it once: replays never duplicate. run_id is a field, not a tag: a tag
per run would grow a new series every hour. SQL: table `lakeprobe_check`, one column per field, primary key
`key` (Record.key); columns added in later versions are added to an existing table.
"""

import datetime

from lakeprobe.records import Record, Status

MEASUREMENT = TABLE = "lakeprobe_check"
TAGS = ("lake", "run_kind", "suite", "check", "rse", "protocol", "peer", "mode", "blame")
STRING_FIELDS = ("status", "error_class", "message", "run_id")
NUMBER_FIELDS = ("duration_s", "bytes", "throughput_Bps", "attempts")
# A number per status, for panels that colour by value: the worse, the higher, so that max() over an hour is
# its worst finding; the neutral states are below pass, so they show only when nothing else ran.
STATE = {Status.DOWNTIME: -2, Status.SKIP: -1, Status.PASS: 0, Status.WARN: 1, Status.ERROR: 2, Status.FAIL: 3}
FIELDS = STRING_FIELDS + NUMBER_FIELDS + ("state",)

SQL_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key text PRIMARY KEY,
    time timestamptz NOT NULL,
    run_id text NOT NULL,
    suite text NOT NULL, "check" text NOT NULL, rse text NOT NULL, protocol text NOT NULL,
    peer text NOT NULL, mode text NOT NULL,
    status text NOT NULL, state smallint NOT NULL, error_class text NOT NULL, message text NOT NULL,
    duration_s double precision NOT NULL, bytes bigint NOT NULL, throughput_bps double precision NOT NULL,
    attempts integer NOT NULL
);
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS lake text NOT NULL DEFAULT '';
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS run_kind text NOT NULL DEFAULT 'round';
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS blame text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS {TABLE}_time ON {TABLE} (time);
CREATE INDEX IF NOT EXISTS {TABLE}_run ON {TABLE} (run_id);
"""
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
)


def micros(record: Record) -> int:
    return int(round(record.ts * 1e6))


def line(record: Record) -> str:
    """The record in InfluxDB line protocol, precision microseconds."""
    tags = "".join(f",{t}={_escape_tag(getattr(record, t))}" for t in TAGS if getattr(record, t))
    strings = [f'{f}="{_escape_string(getattr(record, f))}"' for f in STRING_FIELDS]
    numbers = [f"{f}={float(getattr(record, f))}" for f in ("duration_s", "throughput_Bps")]
    integers = [f"{f}={int(getattr(record, f))}i" for f in ("bytes", "attempts")] + [f"state={STATE[record.status]}i"]
    return f"{MEASUREMENT}{tags} {','.join(strings + numbers + integers)} {micros(record)}"


def row(record: Record) -> tuple:
    return (
        record.key,
        datetime.datetime.fromtimestamp(record.ts, datetime.UTC),
        record.run_id,
        record.lake,
        record.run_kind,
        record.suite,
        record.check,
        record.rse,
        record.protocol,
        record.peer,
        record.mode,
        str(record.status),
        STATE[record.status],
        str(record.error_class),
        record.message,
        record.blame,
        record.duration_s,
        record.bytes,
        record.throughput_Bps,
        record.attempts,
    )


def _escape_tag(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_string(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
