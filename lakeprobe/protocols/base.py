"""The interface every storage protocol module implements.

A module knows how to talk to a storage over one scheme: reach it, do the namespace and data operations,
copy third-party in the modes the protocol has, and send one request with exactly one explicit token for
the authorization checks. It raises ProbeFailure with a precise error class for anything the storage does
wrong. It knows nothing of deadlines, slots or records: lakeprobe/storage.py puts every call under the
RSE's deadline, and the checks decide what a result means.

Every call takes the token it presents (or None) explicitly; none reads or sets a process-wide one.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from lakeprobe.checksums import Checksum
from lakeprobe.urls import plain_url


@dataclass(frozen=True)
class Outcome:
    """What a storage did with one request made with one explicit token: `allowed`, or refused on
    authorization grounds; what it gave (the bytes read, the names listed); and `via`, " (via door ->
    server)" when a door redirected, for the check's message. True when allowed."""

    allowed: bool
    value: Any = None
    via: str = ""

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def of(cls, value: Any) -> "Outcome":
        """From what a client says: the bytes / True / the names when allowed, None / False when refused."""
        return cls(value is not None and value is not False, value)


@dataclass
class Reached:
    """What the connection check learnt: empty `warning` when all is well (e.g. a certificate expiring)."""

    warning: str = ""
    detail: str = ""
    implementation: str = ""  # what the server says it is (its Server header, its version), as it says it


@dataclass
class Entry:
    size: int
    is_dir: bool


@dataclass
class Moved:
    """What a transfer may return: the seconds the data itself took, set-up left out (connecting, opening,
    a copy's rendezvous), where the protocol can tell them apart. Throughput is judged on these."""

    seconds: float


class Protocol(ABC):
    scheme: ClassVar[str]
    copy_modes: ClassVar[dict[str, str]] = {}  # third-party copy modes, each with its check's name
    takes_tokens: ClassVar[bool] = True  # whether the storage authorizes bearer tokens over this protocol
    logs_in_with_token: ClassVar[bool] = False  # whether reaching it (connect) presents the token already
    on_network: ClassVar[bool] = True  # reached over the network at a host's addresses (not file://)
    # whether it lists and looks up through a cluster's manager as through one server (every data server's
    # entries, and a refresh of what the manager cached): the protocol to clean up with
    sees_whole_cluster: ClassVar[bool] = False

    # -- URLs ----------------------------------------------------------------------------------------
    def check_base(self, url: str):
        """Raises ValueError, in words for the user, when `url` cannot be an endpoint of this protocol:
        another scheme, no host, credentials (secrets come from the environment), a bad port."""
        parts = urlsplit(plain_url(url, (self.scheme,)))
        if parts.query or parts.fragment:
            raise ValueError(f"{url!r}: an endpoint has no query or fragment")

    def join(self, base: str, path: str) -> str:
        """The URL of `path` (absolute) on the endpoint `base` (scheme://host:port/[base path])."""
        return base.rstrip("/") + "/" + path.lstrip("/")

    def prepare_process(self):  # noqa: B027  (most protocols need nothing: not abstract on purpose)
        """Once per process, before any call and before threads start: settings the client library reads
        from the environment once."""

    # -- reachability --------------------------------------------------------------------------------
    @abstractmethod
    def connect(self, base: str, token: str | None, timeout_s: float) -> Reached:
        """Reach the endpoint and verify its certificate; raises ProbeFailure, precisely diagnosed."""

    def reach_address(self, base: str, address: str, timeout_s: float) -> Reached:
        """Reach the endpoint at one of its host's addresses (IPv4 or IPv6) and verify its certificate."""
        raise NotImplementedError(f"{self.scheme}:// is not reached over the network")

    # -- namespace and data --------------------------------------------------------------------------
    @abstractmethod
    def mkdir(self, url: str, token: str | None, timeout_s: float):
        """With parents; existing is fine."""

    @abstractmethod
    def put(self, local: str, url: str, token: str | None, timeout_s: float) -> Moved | None:
        """Overwrites."""

    @abstractmethod
    def stat(self, url: str, token: str | None, timeout_s: float) -> Entry: ...

    @abstractmethod
    def checksum(self, url: str, token: str | None, timeout_s: float) -> Checksum:
        """The storage's checksum of the file: adler32 when it offers it, else its own algorithm."""

    @abstractmethod
    def get(self, url: str, local: str, token: str | None, timeout_s: float) -> Moved | None: ...

    @abstractmethod
    def listdir(self, url: str, token: str | None, timeout_s: float) -> list[str]: ...

    @abstractmethod
    def delete(self, url: str, token: str | None, timeout_s: float): ...

    @abstractmethod
    def rmdir(self, url: str, token: str | None, timeout_s: float): ...

    def refresh(self, url: str, token: str | None, timeout_s: float) -> bool:
        """Makes a redirector forget where `url` is (or that it is nowhere), so that the next call looks it
        up anew; False: this protocol has no way to ask."""
        return False

    def copy(
        self, source: str, destination: str, mode: str, token: str | None, timeout_s: float, source_token: str | None
    ) -> Moved | None:
        """Third-party copy in `mode` (one of copy_modes), never streamed through this client: `token` for the
        destination, and for the source unless it takes tokens for another audience (`source_token`)."""
        raise NotImplementedError(f"{self.scheme}:// has no third-party copy")

    # -- one request, one explicit token: what a storage lets a token holder do ----------------------
    # Each answers what the storage did as an Outcome (its value: the bytes read, the names listed); a
    # refusal on authorization grounds is not allowed; anything else raises ProbeFailure.
    def read_as(self, url: str, token: str | None, timeout_s: float) -> Outcome:
        raise NotImplementedError

    def write_as(self, url: str, token: str | None, data: bytes, timeout_s: float, overwrite: bool = False) -> Outcome:
        raise NotImplementedError

    def delete_as(self, url: str, token: str | None, timeout_s: float) -> Outcome:
        raise NotImplementedError

    def mkdir_as(self, url: str, token: str | None, timeout_s: float) -> Outcome:
        """One directory, its parent existing (no parents made)."""
        raise NotImplementedError

    def list_as(self, url: str, token: str | None, timeout_s: float) -> Outcome:
        raise NotImplementedError

    def move_as(self, url: str, to_url: str, token: str | None, timeout_s: float) -> Outcome:
        raise NotImplementedError
