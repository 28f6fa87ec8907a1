"""Rounds of one lake never overlap: a round (or one shard of it) holds a lock for as long as it runs, and a
second one started meanwhile on the same machine is refused. Pipelines that spread shards over machines use
their scheduler's own settings (ci/). The lock is an flock on a file: it dies with its process."""

import fcntl
import os
import re
import tempfile
from pathlib import Path

_held: list[int] = []  # kept open for the life of the process


class RoundRunning(Exception):
    """Another round of the lake runs; the message is the one line the user sees."""


def hold(lake: str, shard: str = "") -> Path:
    name = re.sub(r"[^\w.-]", "_", f"{lake}{'-shard-' + shard.replace('/', '-of-') if shard else ''}")
    path = Path(tempfile.gettempdir()) / f"lakeprobe-round-{name}.lock"
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
