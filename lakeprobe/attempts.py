"""Retrying transient failures, with backoff, and recording the effort and the speed in the check's record."""

from lakeprobe import deadline
from lakeprobe.errors import ErrorClass, ProbeFailure
from lakeprobe.protocols.base import Moved
from lakeprobe.records import Record
from lakeprobe.storage import Timed

# A refused connection or an unexplained error may pass; a timeout is not retried (it would cost another
# deadline) and neither is any answer the storage gave on purpose (403, ENOSPC, a checksum).
TRANSIENT = (ErrorClass.UNREACHABLE, ErrorClass.UNKNOWN)
BACKOFF_CAP_S = 4.0  # 0.5, 1, 2, 4, 4, ... s between tries, however many --retries asks for


def attempt(record: Record, operation, retries: int, backoff_s: float = 0.5):
    for n in range(retries + 1):
        record.attempts = n + 1
        try:
            return operation()
        except ProbeFailure as e:
            if e.error_class not in TRANSIENT or n == retries:
                raise
            if deadline.interrupted.wait(min(BACKOFF_CAP_S, backoff_s * 2**n)):  # Ctrl-C ends the wait
                raise deadline.Interrupted(f"not retried: interrupted after {e}") from None


def note_throughput(record: Record, nbytes: int, done: Timed):
    """Bytes and throughput into the record: the data's own time where the protocol tells it apart from the
    set-up (a server slow to accept a connection is not a slow link), else the transfer's (waiting for an
    operation slot is never in it). Whether the endpoint is slow is judged over the round's transfers
    (lakeprobe/throughput.py)."""
    seconds = done.value.seconds if isinstance(done.value, Moved) else done.seconds
    record.bytes = nbytes
    record.throughput_Bps = round(nbytes / seconds, 1) if seconds > 0 else 0.0
