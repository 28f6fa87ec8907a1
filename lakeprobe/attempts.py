"""Retrying transient failures, with backoff, and recording the effort and the speed in the check's record."""

import time

from lakeprobe.errors import ProbeFailure
from lakeprobe.records import ErrorClass, Record, Status

# A refused connection or an unexplained error may pass; a timeout is not retried (it would cost another
# deadline) and neither is any answer the storage gave on purpose (403, ENOSPC, a checksum).
TRANSIENT = (ErrorClass.UNREACHABLE, ErrorClass.UNKNOWN)


def attempt(record: Record, operation, retries: int, backoff_s: float = 0.5):
    for n in range(retries + 1):
        record.attempts = n + 1
        try:
            return operation()
        except ProbeFailure as e:
            if e.error_class not in TRANSIENT or n == retries:
                raise
            time.sleep(backoff_s * 2**n)


def note_throughput(record: Record, nbytes: int, seconds: float, floor_Bps: float):
    """Bytes and throughput into the record; slower than the floor is a warning (class `slow`), not a failure.
    The time is the transfer operation's own: waiting for an operation slot is not in it, and root:// TPC is
    driven without XrdCl's fixed polling delay (lakeprobe/protocols/root.py)."""
    record.bytes = nbytes
    record.throughput_Bps = round(nbytes / seconds, 1) if seconds > 0 else 0.0
    if nbytes and floor_Bps and record.throughput_Bps < floor_Bps:
        record.status, record.error_class = Status.WARN, ErrorClass.SLOW
        record.message = f"slow: {record.throughput_Bps:.0f} B/s, below the floor of {floor_Bps:.0f} B/s"
