"""Reading through a cache, per cache x origin x protocol: a fresh file comes through with the bytes the
origin was given (`cache_read`); a second read is served from what the cache holds (`cache_hit`); a file
replaced at the origin is served new within what the cache is declared to allow (`cache_consistency`) and
once evicted (`cache_evict`); with its origin out of reach, the cache serves what it holds and promptly
fails what it does not (`cache_origin_down`)."""

import time

from lakeprobe.areas import same_content
from lakeprobe.errors import ErrorClass, NotProbed, ProbeFailure

# Small on purpose: the cache keeps a copy of each until it purges it.
FILE_SIZE = 64 * 1024
# The longest a round waits for a cache to ask its origin again (`revalidate_s`).
REVALIDATE_WAIT_MAX_S = 30
# How long evictions are asked, from the read that fetched the file (each a second after a read). XCache
# evicts no file still open, and a file closed while its fetched blocks are still being written to the
# cache's disk stays open 30 s more (XrdPfc's deferred detach). Once in CI, on a loaded machine, every
# eviction asked in the 6 s after the fetch went without effect, as that would make it.
EVICT_WINDOW_S = 40


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
    asks its origin on every read (`revalidate_s: 0` in the inventory) cannot show this and skips."""
    step.needs("cache_read")
    if step.through.cache.revalidate_s == 0:
        raise NotProbed(f"not tried: {step.through.cache.name} asks its origin on every read (inventory)")
    first, served_at = step.served, step.served_at
    replacement = step.write_at_origin(FILE_SIZE, record)
    got = step.read_through()
    if same_content(got, first):
        record.message = (
            "served from the cache's copy: the origin's was replaced, and it served the bytes it holds "
            "(a cache that never asks its origin again serves a replaced file's old bytes until purged)"
        )
        return
    allowed = step.through.cache.revalidate_s
    if same_content(got, replacement) and allowed is not None and time.monotonic() - served_at >= allowed:
        record.message = f"served the origin's new copy: {allowed} s had passed, after which it asks again"
        return
    if same_content(got, replacement):
        raise ProbeFailure(
            ErrorClass.NOT_CACHED,
            f"the second read came from the origin {step.through.origin.name}, not from the cache's copy: "
            "it kept nothing of the first read, or asks the origin again (then declare `revalidate_s`)",
        )
    raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, "the second read gave bytes neither read nor written")


def test_cache_consistency(step, record):
    """A file replaced at the origin is served with its new bytes once the cache's `revalidate_s` has
    passed (inventory): after that, the old bytes are `stale_copy`. A cache declared with none never asks
    its origin again (XCache): it is allowed the old bytes until it purges or evicts them, and skips."""
    step.needs("cache_read")
    cache, allowed = step.through.cache.name, step.through.cache.revalidate_s
    if allowed is None:
        raise NotProbed(
            f"not tried: {cache} never asks its origin again (no `revalidate_s`): it serves a replaced "
            "file's old bytes until it purges or evicts them (cache_evict)"
        )
    if allowed > REVALIDATE_WAIT_MAX_S:
        raise NotProbed(f"not tried: {cache} may serve old bytes {allowed} s, longer than a round waits")
    earlier = [step.served, *step.versions]
    # Another size: a cache that compares size and modification time (1 s apart at best) sees the change.
    new = step.write_at_origin(FILE_SIZE + 1, record)
    time.sleep(allowed + 1)
    got = step.read_through()
    if same_content(got, new):
        record.message = f"served the origin's new bytes {allowed + 1} s after they were written"
        return
    if any(same_content(got, old) for old in earlier):
        raise ProbeFailure(
            ErrorClass.STALE_COPY,
            f"{cache} served a replaced file's old bytes {allowed + 1} s after the origin's copy changed: it "
            f"is declared to ask its origin again after {allowed} s (`revalidate_s`)",
        )
    raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, "it served bytes neither read nor written")


def test_cache_evict(step, record, tokens):
    """An eviction drops the cache's copy: a file of the check's own is read through the cache, replaced at
    the origin, shown to be served old, then the cache is asked to evict it with the token of the
    inventory's `evict_client` (XCache's remove command), and a read after one of its requests, asked for
    40 s, must serve the new bytes. Every read of it is on a connection of its own: XCache evicts no open file. No
    `evict_client`: skipped."""
    step.needs("cache_read")
    cache = step.through.cache
    if not cache.evict_client:
        raise NotProbed(f"not tried: no `evict_client` for {cache.name} in the inventory")
    if "root" not in cache.protocols:
        raise NotProbed(f"not tried: {cache.name} has no root://, the only protocol an eviction is asked over")
    path = f"{step.path}.evict"
    origin_url = step.through.origin.url(step.through.origin_protocol, path)
    old, new = (step.local("cache-evict-", size=FILE_SIZE) for _ in range(2))
    old_bytes, new_bytes = _bytes(old), _bytes(new)
    step.put_at_origin(old, origin_url, record)
    fetched = time.monotonic()
    if step.read_alone(path) != old_bytes:
        raise NotProbed(f"not tried: {cache.name} did not serve the file as written (cache_read says more)")
    step.put_at_origin(new, origin_url, record)
    if step.read_alone(path) != old_bytes:
        raise NotProbed(f"not tried: {cache.name} served the origin's new copy before any eviction")
    token = tokens.token(cache.evict_client, step.endpoint.audience or None)
    attempt = 0
    while attempt == 0 or time.monotonic() - fetched < EVICT_WINDOW_S:
        attempt += 1
        time.sleep(1)  # the last read leaves the file open at the cache a moment
        answer = step.evict(path, token)
        time.sleep(1)  # the command runs after its answer
        got = step.read_alone(path)
        if got == new_bytes:
            record.message = f"evicted on request (attempt {attempt}): the next read served the origin's new copy"
            return
        if got != old_bytes:
            raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, "after the eviction it served bytes never written")
    raise ProbeFailure(
        ErrorClass.STALE_COPY,
        f"{cache.name} served its old copy after {attempt} requests to evict it in {EVICT_WINDOW_S} s "
        f"(its answer: {answer})",
    )


def _bytes(local: str) -> bytes:
    with open(local, "rb") as f:
        return f.read()


def test_cache_origin_down(step, record):
    """With its origin out of reach, the cache serves the file it holds and fails at once, before the
    deadline, a file it does not hold: that failure is the origin's. An origin that hangs rather than
    refuses may keep that read waiting, as it would any reader. Tried in a round where the probe finds the
    origin out of reach too; in every other round the held file is read through the cache, so that it holds
    it then, and the check skips."""
    cache, origin = step.through.cache.name, step.through.origin.name
    why, hangs = step.origin_out_of_reach()
    if not why:
        try:
            step.read_held()
        except ProbeFailure as e:
            raise NotProbed(f"not tried: the origin {origin} answers; its held file did not read: {e}") from None
        raise NotProbed(f"not tried: the origin {origin} answers; {cache} holds its held file for a round when not")
    without = f"with its origin {origin} out of reach, {cache}"
    try:
        step.storage.stat(step.held_in_cache)
    except ProbeFailure as e:
        if e.error_class == ErrorClass.TIMEOUT and hangs:
            raise NotProbed(f"not tried: {cache}'s stat of its held file waited on its hung origin") from None
        if e.error_class == ErrorClass.TIMEOUT:
            raise ProbeFailure(e.error_class, f"{without} held a stat of its held file to the deadline: {e}") from None
        if not step.answered(e):  # the cache itself out of reach: its own failure
            raise
        raise NotProbed(f"not tried: {cache} holds no copy of its held file, and its origin is out of reach") from None
    try:
        served = step.read_held()
    except ProbeFailure as e:
        raise ProbeFailure(e.error_class, f"{without} did not serve the file it holds: {e}") from None
    if served != step.held:  # what it fetched once; its origin may have stored other bytes then
        raise NotProbed(f"not tried: {cache}'s copy of its held file is not the probe's bytes")
    started = time.monotonic()
    try:
        step.read_alone(step.never_written())
    except ProbeFailure as e:
        if e.error_class == ErrorClass.TIMEOUT and hangs:
            record.message = (
                f"{without} served the file it holds; its origin hangs, and a file it does not hold waited on it"
            )
        elif e.error_class == ErrorClass.TIMEOUT:
            raise ProbeFailure(
                e.error_class, f"{without} held a read of a file it does not hold to the deadline: {e}"
            ) from None
        else:
            record.message = (
                f"{without} served the file it holds, and failed one it does not hold in "
                f"{time.monotonic() - started:.1f} s (the origin's fault): {e}"
            )
        return
    raise ProbeFailure(ErrorClass.PROTOCOL_ERROR, f"{without} served a file nobody wrote")
