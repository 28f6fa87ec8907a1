"""A cap on concurrent operations per RSE, shared by every process of a run (the pytest-xdist workers).

Each RSE has `cap` slot files in a directory of the run; an operation holds an flock on one slot of every
RSE it touches (both ends of a copy) for as long as it runs. Locks die with their process, so a killed
worker never leaks a slot.
"""

import contextlib
import fcntl
import os
import time
from pathlib import Path

from lakeprobe.errors import ProbeError

POLL_S = 0.02


class Slots:
    def __init__(self, directory: Path, caps: dict[str, int]):
        self.directory, self.caps = Path(directory), caps
        self.directory.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def held(self, rses: list[str], wait_s: float):
        """Hold one slot of each RSE (those without a cap are free); waits at most `wait_s` in all."""
        deadline = time.monotonic() + wait_s
        held = []
        try:
            for rse in sorted(set(r for r in rses if self.caps.get(r))):  # one order everywhere: no deadlock
                held.append(self._take(rse, deadline))
            yield
        finally:
            for fd in held:
                os.close(fd)  # closing drops the lock

    def _take(self, rse: str, deadline: float) -> int:
        paths = [self.directory / f"{rse}.{n}" for n in range(self.caps[rse])]
        while True:
            for path in paths:
                fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    os.close(fd)
            if time.monotonic() > deadline:
                # The RSE is busy with this run's own operations: the run's fault, not the storage's.
                raise ProbeError("timeout", f"all {self.caps[rse]} operation slots of {rse} stayed busy")
            time.sleep(POLL_S)
