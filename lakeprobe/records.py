"""Result records: exactly one per check, with one status and, unless it passed, a precise error class.

Status and error class are enums checked when a record is built, so a typo can never reach a sink or a
dashboard. The README's "Records" section documents every field and every class.
"""

import hashlib
import json
import re
import time
import uuid
from calendar import timegm
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path

from lakeprobe.errors import ErrorClass
from lakeprobe.untrusted import inert


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"  # the thing probed misbehaved
    ERROR = "error"  # something else broke (the token issuer, the probe itself)
    SKIP = "skip"  # not run for real: a step it needs failed, a quirk, no client for it
    DOWNTIME = "downtime"  # declared downtime: not run


# Worst first: what a grid cell, a summary or a list of findings shows first.
SEVERITY = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.DOWNTIME, Status.SKIP)


# A scheduled round runs every selected check; an ad-hoc run (--rse, -k, a node id, ...) runs some.
# Only rounds decide what the status page and chat say: an ad-hoc run never hides a round's finding.
RUN_KINDS = ("round", "adhoc")


RUN_ID = re.compile(r"^(\d{8}T\d{6}Z)-[0-9a-f]{6}$")  # the start time, and six hex digits


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def run_id_for(given: str | None, now: float | None = None) -> str:
    """The run id of a run: new, or made from one the scheduler gives every shard of a round (a pipeline id,
    a Job's name): the hour the shard started in and a hash of the given id. Shards of a round scheduled on
    the hour start within it, however late the scheduler is, and agree; the run directories carry their
    start time for the sweeper. Who looks for the round later matches the hash (same_round)."""
    if not given:
        return new_run_id()
    if RUN_ID.match(given):
        return given
    hour = (now or time.time()) // 3600 * 3600
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(hour)) + "-" + _digest(given)


def same_round(run_id: str, given: str) -> bool:
    """Whether a record's run id is of the round the scheduler called `given` (whenever its shards ran)."""
    return run_id == given or (not RUN_ID.match(given) and run_id.endswith("-" + _digest(given)))


def _digest(given: str) -> str:
    return hashlib.sha256(given.encode()).hexdigest()[:6]


def run_started(run_id: str) -> float | None:
    match = RUN_ID.match(run_id)
    return timegm(time.strptime(match[1], "%Y%m%dT%H%M%SZ")) if match else None


@dataclass
class Record:
    run_id: str
    suite: str
    check: str
    lake: str = ""
    run_kind: str = "round"
    shard: str = ""  # "K/N" for a shard of a round spread over N machines
    family: str = ""  # ipv4 or ipv6, for a check of one address family
    address: str = ""  # the address that check forced
    rse: str = ""
    protocol: str = ""
    peer: str = ""
    mode: str = ""
    status: Status = Status.PASS
    error_class: ErrorClass = ErrorClass.NONE
    message: str = ""
    blame: str = ""  # whom a finding implicates: an RSE, a pair "A->B", or a service; empty otherwise
    implementation: str = ""  # what the storage says it is (`XrootD/v5.5.3`), where it says so
    hint: str = ""  # for a finding: what to do about it (lakeprobe/hints.py)
    duration_s: float = 0.0
    bytes: int = 0
    throughput_Bps: float = 0.0
    attempts: int = 1
    ts: float = field(default_factory=time.time)

    def __post_init__(self):
        self.status = Status(self.status)  # ValueError for anything but a known status
        self.error_class = ErrorClass(self.error_class)
        if self.run_kind not in RUN_KINDS:
            raise ValueError(f"run_kind {self.run_kind!r} is not one of {', '.join(RUN_KINDS)}")

    def __setattr__(self, name, value):  # at construction too: dataclass __init__ sets through here
        if name == "status":
            value = Status(value)
        elif name == "error_class":
            value = ErrorClass(value)
        elif name in ("message", "implementation"):  # a storage's own words: never raw into a terminal or a page
            value = inert(value)
        super().__setattr__(name, value)

    @classmethod
    def judged_over(cls, first: "Record", suite: str, check: str, **fields) -> "Record":
        """A record judged at the end over the run's others (throughput, rucio_events): the run's identity
        (id, shard, lake, kind) taken from the run's first record."""
        return cls(
            run_id=first.run_id,
            suite=suite,
            check=check,
            shard=first.shard,
            lake=first.lake,
            run_kind=first.run_kind,
            **fields,
        )

    @property
    def pinned_family(self) -> str:
        """The address family a chain forced with --per-address ran over; "" for the others (the
        connection_ipv4/6 checks name their family in the check)."""
        return self.family if self.family and self.check != f"connection_{self.family}" else ""

    @property
    def series(self) -> tuple[str, ...]:
        """What the record is one of, round after round: its check on its endpoint (or pair), in its mode, on
        the family its chain was forced to. The status page and chat follow a series over rounds."""
        return (self.suite, self.check, self.rse, self.protocol, self.peer, self.mode, self.pinned_family)

    @property
    def key(self) -> str:
        """Stable identity of a record, its series in one run: sinks use it so that a replay never
        duplicates."""
        *series, family = self.series
        return "|".join([self.run_id, *series] + ([family] if family else []))

    @property
    def grid_row(self) -> tuple[str, str]:
        """Where the terminal and the status page show the record: its RSE, and its protocol with the family
        its chain was forced to, if any (`davs/ipv6`)."""
        return self.rse, "/".join(p for p in (self.protocol, self.pinned_family) if p)

    @property
    def is_finding(self) -> bool:
        return self.status in (Status.WARN, Status.FAIL, Status.ERROR)

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, StrEnum) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Record":
        """A record as written by this or an earlier version (fields it does not know are left out)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class JsonlWriter:
    """results/<run_id>.jsonl: every record of a run, always, whatever other sinks do."""

    def __init__(self, results_dir: Path, run_id: str):
        results_dir.mkdir(parents=True, exist_ok=True)
        self.path = results_dir / f"{run_id}.jsonl"

    def write(self, record: Record):
        with self.path.open("a") as f:
            f.write(json.dumps(record.to_dict()) + "\n")

    def rewrite(self, records: list[Record]):
        """The run's final records (with blame), replacing what was written as they came."""
        partial = self.path.with_suffix(".partial")
        partial.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
        partial.replace(self.path)


def read_jsonl(path: Path) -> list[Record]:
    return [Record.from_dict(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
