"""While the run waits on a slow or hanging endpoint, the terminal says what it waits for and how long is
left, every few seconds, instead of a minute of silence. The waits are those every process of the run posts
on the waiting board (lakeprobe/waiting.py); the process that owns the terminal prints them.

Lines go to a duplicate of the terminal's file descriptor: while a test runs in this process, pytest
captures standard output, and these lines are for the person watching, not for a test's captured output.
"""

import os
import shutil
import sys
import threading
from typing import TextIO

from lakeprobe import waiting

EVERY_S = 5.0


class Watcher:
    """A thread that prints the board's waits while `with` lasts (or between start() and stop())."""

    def __init__(self, config, state, doing: str):
        self.board = waiting.Board(state.board_dir)
        self.doing, self.stopped = doing, threading.Event()
        self.quiet = config.getoption("verbose", 0) < 0 and config.getoption("quiet", 0) > 1
        self.thread = threading.Thread(target=self._run, name="lakeprobe-progress", daemon=True)
        self.out: TextIO | None = None

    def start(self):
        if not self.quiet and sys.__stdout__ is not None:
            self.out = os.fdopen(os.dup(sys.__stdout__.fileno()), "w", buffering=1)
            self.thread.start()
        return self

    def stop(self):
        self.stopped.set()
        if self.out is not None:
            self.thread.join(timeout=1)
            self.out.close()
            self.out = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _run(self):
        while not self.stopped.wait(EVERY_S):
            waits = self.board.now_waiting()
            if waits:
                width = shutil.get_terminal_size((100, 24)).columns
                said = "; ".join(f"{what} ({left:.0f} s left)" for what, left in waits[:2])
                more = f" and {len(waits) - 2} more" if len(waits) > 2 else ""
                line = f"lakeprobe: {self.doing}: waiting for {said}{more}"
                assert self.out is not None
                self.out.write("\n" + (line if len(line) <= width else line[: width - 3] + "...") + "\n")
