"""Rounds of one lake never overlap: a round (or one shard of it) holds a lock for as long as it runs, and a
second one started meanwhile on the same machine, writing the same results directory, is refused. Pipelines
that spread shards over machines use their scheduler's own settings (ci/). The lock is an flock on a file:
it dies with its process."""

import fcntl
import hashlib
import os
import re
import tempfile
from pathlib import Path

_held: list[int] = []  # kept open for the life of the process


class RoundRunning(Exception):
    """Another round of the lake runs; the message is the one line the user sees."""


def hold(lake: str, shard: str, results_dir: str) -> Path:
    """Rounds writing one results directory are one series: two labs, or two test sessions, each writing
    their own, are not held back by one another even when their lakes have one name."""
    name = re.sub(r"[^\w.-]", "_", f"{lake}{'-shard-' + shard.replace('/', '-of-') if shard else ''}")
    series = hashlib.sha256(str(Path(results_dir).resolve()).encode()).hexdigest()[:8]
    path = Path(tempfile.gettempdir()) / f"lakeprobe-round-{name}-{series}.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise RoundRunning(
            f"a round of lake {lake}{' (shard ' + shard + ')' if shard else ''} is running already "
            f"(pid {holder}): rounds never overlap; an ad-hoc run (--rse, -k) is not held back"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held.append(fd)
    return path
