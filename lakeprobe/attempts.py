"""Retrying transient failures, with backoff, and recording the effort in the check's record."""
import time

from lakeprobe.errors import ProbeFailure

# A refused connection or an unexplained error may pass; a timeout is not retried (it would cost another
# deadline) and neither is any answer the storage gave on purpose (403, ENOSPC, a checksum).
TRANSIENT = ("unreachable", "unknown")


def attempt(record, operation, retries: int, backoff_s: float = 0.5):
    for n in range(retries + 1):
        record.attempts = n + 1
        try:
            return operation()
        except ProbeFailure as e:
            if e.error_class not in TRANSIENT or n == retries:
                raise
            time.sleep(backoff_s * 2 ** n)


def note_throughput(record, nbytes: int, seconds: float, floor_Bps: float):
    """Bytes and throughput into the record; slower than the floor is a warning, not a failure."""
    record.bytes = nbytes
    record.throughput_Bps = round(nbytes / seconds, 1) if seconds > 0 else 0.0
    if nbytes and record.throughput_Bps < floor_Bps:
        record.status = "warn"
        record.message = f"slow: {record.throughput_Bps:.0f} B/s, below the floor of {floor_Bps:.0f} B/s"
