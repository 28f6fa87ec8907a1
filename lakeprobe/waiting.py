"""What the run is waiting for: calls that have been waiting on an endpoint for a while, shared by every
process of the run, so that the terminal can say "waiting for upload to XRD2 (52 s left)" instead of
staying silent for a whole deadline.

Each process posts its long calls as small files in the run's shared directory; the process that owns the
terminal reads them (plugins/progress.py). Without a board (a library user), nothing is posted.
"""

import contextlib
import itertools
import json
import os
import time
from pathlib import Path


class Board:
    def __init__(self, directory: Path | None):
        self.directory = directory
        self._numbers = itertools.count()

    @contextlib.contextmanager
    def waiting(self, what: str, until: float):
        if self.directory is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{os.getpid()}-{next(self._numbers)}"
        try:
            path.write_text(json.dumps({"what": what, "until": until}))
        except OSError:  # the board is a courtesy: never a reason for a call to fail
            yield
            return
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    def now_waiting(self) -> list[tuple[str, float]]:
        """(what, seconds left), longest wait first."""
        if self.directory is None or not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            try:
                item = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # written or removed just now
            found.append((item["what"], max(0.0, item["until"] - time.time())))
        return sorted(found, key=lambda w: w[1])


_board = Board(None)


def board() -> Board:
    return _board


def use(directory: Path | None):
    global _board
    _board = Board(directory)
