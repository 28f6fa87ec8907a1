"""Where a run writes on each RSE: its own directory `<prefix>/<run id>/`, one sub-directory per use (the
chain's per protocol, the copies', the token checks'), and nothing anywhere else but the path-scoped
client's `<prefix>/scoped/<run id>/`, `<prefix>/scoped-beside/<run id>/` next to it, the group client's
`<prefix>/groups/<run id>/`, and the owners' file in the embargoed area. The process that started the run
removes all of it at the end (plugins/cleanup.py); the sweeper removes what a killed run left.
"""

import os
import tempfile
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakeprobe.deadline import call_with_deadline
from lakeprobe.inventory import RSE
from lakeprobe.protocols import registry
from lakeprobe.protocols.base import Outcome
from lakeprobe.storage import Storage

if TYPE_CHECKING:
    from lakeprobe.state import RunState


class RunArea:
    def __init__(self, state: "RunState", storage: Storage):
        self.state, self.storage, self.made_dir = state, storage, state.made_dir

    def directory(self, rse: RSE, protocol: str, sub: str = "") -> str:
        return rse.url(protocol, f"{self.state.area(rse)}/{sub}".rstrip("/"))

    def made(self, rse: RSE, protocol: str, below: str) -> str:
        """The run's directory in the area `below` the RSE's prefix (one of state.RUN_AREAS), made: its URL."""
        url = rse.url(protocol, self.state.area(rse, below))
        self.mkdir(rse, protocol, url)
        return url

    def mkdir(self, rse: RSE, protocol: str, url: str, family: str = ""):
        done = self.storage.pinned(family).mkdir(url)
        self.made_dir.mkdir(parents=True, exist_ok=True)
        (self.made_dir / f"{rse.name}.{protocol}").touch()  # the cleanup looks here
        return done


@dataclass
class AuthzArea:
    """The run's directory on one RSE x protocol where the token checks work, with a file the probe token
    placed there for them to read; `problem` says why it could not be prepared. Its methods send one request
    with exactly the token given, under the RSE's deadline, and answer what the storage did (an Outcome)."""

    rse: RSE
    protocol: str
    directory: str
    timeout_s: float
    data: bytes = b""
    problem: str = ""
    embargoed: str = ""  # the owners' file in the embargoed area, until it is published

    @property
    def readable(self) -> str:
        return self.url("readable.dat")

    def url(self, name: str) -> str:
        return f"{self.directory}/{name}"

    def _ask(self, what: str, url: str, call):
        return call_with_deadline(call, self.timeout_s, f"{what} with one token on {self.rse.name} {self.protocol}")

    def read(self, url: str, token: str | None) -> Outcome:
        return self._ask("read", url, lambda: registry.for_url(url).read_as(url, token, self.timeout_s))

    def write(self, url: str, token: str | None, data: bytes, overwrite: bool = False) -> Outcome:
        return self._ask(
            "write", url, lambda: registry.for_url(url).write_as(url, token, data, self.timeout_s, overwrite)
        )

    def delete(self, url: str, token: str | None) -> Outcome:
        return self._ask("delete", url, lambda: registry.for_url(url).delete_as(url, token, self.timeout_s))

    def mkdir(self, url: str, token: str | None) -> Outcome:
        return self._ask("mkdir", url, lambda: registry.for_url(url).mkdir_as(url, token, self.timeout_s))

    def listing(self, url: str, token: str | None) -> Outcome:
        return self._ask("list", url, lambda: registry.for_url(url).list_as(url, token, self.timeout_s))

    def move(self, url: str, to_url: str, token: str | None) -> Outcome:
        return self._ask("move", url, lambda: registry.for_url(url).move_as(url, to_url, token, self.timeout_s))


def random_file(size: int, label: str = "", chunk: int = 1 << 20) -> str:
    """A new file of `size` random bytes in the temporary directory, written in chunks (a large probe never
    sits in memory): its path. The caller removes it."""
    path = os.path.join(tempfile.gettempdir(), f"lakeprobe-{label}{uuid.uuid4().hex}")
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(os.urandom(min(chunk, left)))
            left -= chunk
    return path


def same_content(a: str, b: str, chunk: int = 1 << 20) -> bool:
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            if x != y:
                return False
            if not x:
                return True
