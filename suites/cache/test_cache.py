"""Reading through a cache, per cache x origin x protocol: a fresh file comes through with the bytes the
origin was given (`cache_read`), and a second read is served from what the cache holds (`cache_hit`)."""

from lakeprobe.areas import same_content
from lakeprobe.errors import ErrorClass, NotProbed, ProbeFailure

# Small on purpose: the cache keeps a copy of each, and lakeprobe cannot delete it there.
FILE_SIZE = 64 * 1024


def test_cache_read(step, record):
    """A file written at the origin just now reads through the cache, byte for byte: a cache that fails to
    fetch it, or serves other bytes, fails; when the origin itself holds other bytes, the origin is blamed."""
    step.reach_cache()
    written = step.write_at_origin(FILE_SIZE, record)
    got = step.read_through()
    if not same_content(got, written):
        step.judge_other_bytes(got, record)
    record.bytes = FILE_SIZE


def test_cache_hit(step, record):
    """The second read comes from the cache's copy, shown without timing: the origin's copy is replaced by
    other bytes of the same size first, and the cache must go on serving those it holds. A cache that
    asks its origin on every read (`revalidates: true` in the inventory) cannot show this and skips."""
    step.needs("cache_read")
    if step.through.cache.revalidates:
        raise NotProbed(f"not tried: {step.through.cache.name} revalidates every read (inventory)")
    first = step.written
    replacement = step.write_at_origin(FILE_SIZE, record)
    got = step.read_through()
    if same_content(got, first):
        record.message = (
            "served from the cache's copy: the origin's was replaced, and it served the bytes it holds "
            "(a cache that never asks its origin again serves a replaced file's old bytes until purged)"
        )
        return
    if same_content(got, replacement):
        raise ProbeFailure(
            ErrorClass.NOT_CACHED,
            f"the second read came from the origin {step.through.origin.name}, not from the cache's copy: "
            "it kept nothing of the first read, or asks the origin again (then declare `revalidates: true`)",
        )
    raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, "the second read gave bytes neither read nor written")
