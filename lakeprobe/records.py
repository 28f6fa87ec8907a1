"""Result records: exactly one per check, with one status and, unless it passed, a precise error class."""
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Where run records go unless --results-dir or LAKEPROBE_RESULTS_DIR says otherwise.
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"

STATUSES = ("pass", "warn", "fail", "error", "skip", "downtime")
ERROR_CLASSES = ("timeout", "unreachable", "tls", "auth_denied", "permission", "no_space", "not_found",
                 "checksum_mismatch", "content_mismatch", "protocol_error", "security", "unknown")


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


@dataclass
class Record:
    run_id: str
    suite: str
    check: str
    rse: str = ""
    protocol: str = ""
    peer: str = ""
    mode: str = ""
    status: str = "pass"
    error_class: str = ""
    message: str = ""
    duration_s: float = 0.0
    bytes: int = 0
    throughput_Bps: float = 0.0
    attempts: int = 1
    ts: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        """Stable identity of a record: sinks use it so that a replay never duplicates."""
        return "|".join((self.run_id, self.suite, self.check, self.rse, self.protocol, self.peer, self.mode))

    def to_dict(self) -> dict:
        return asdict(self)


class JsonlWriter:
    """results/<run_id>.jsonl: every record of a run, always, whatever other sinks do."""

    def __init__(self, results_dir: Path, run_id: str):
        results_dir.mkdir(parents=True, exist_ok=True)
        self.path = results_dir / f"{run_id}.jsonl"

    def write(self, record: Record):
        with self.path.open("a") as f:
            f.write(json.dumps(record.to_dict()) + "\n")


def read_jsonl(path: Path) -> list[Record]:
    return [Record(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
