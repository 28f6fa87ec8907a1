"""Endpoints found broken this round, shared by every process of the run (the pytest-xdist workers).

When an endpoint's connection check fails, or a data operation on it runs into its deadline, every further
operation on that endpoint (RSE x protocol) this round is skipped, its record naming the first failure: a
stalled endpoint costs the round one deadline, not one per check, and nothing is retried on it (not even
the upload of a copy source). One small file per broken endpoint, in the run's shared directory.
"""

import os
import time
from pathlib import Path

from lakeprobe.errors import NotProbed


class Breaker:
    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _file(self, rse: str, protocol: str) -> Path:
        return self.directory / f"{rse}.{protocol}"

    def trip(self, rse: str, protocol: str, reason: str):
        """Records the first reason only: later failures are consequences of it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._file(rse, protocol), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as f:
            f.write(f"{reason} (at {time.strftime('%H:%M:%S')})")

    def reason(self, rse: str, protocol: str) -> str:
        try:
            return self._file(rse, protocol).read_text()
        except OSError:
            return ""

    def check(self, rse: str, protocol: str):
        """Raises NotProbed naming the first failure when the endpoint is broken this round."""
        reason = self.reason(rse, protocol)
        if reason:
            raise NotProbed(f"not tried: {rse} {protocol} failed earlier this round: {reason}")

    def broken(self) -> set[tuple[str, str]]:
        if not self.directory.is_dir():
            return set()
        return {tuple(p.name.rsplit(".", 1)) for p in self.directory.iterdir()}  # type: ignore[misc]
