"""The cache suite's parameters and shared fixtures: one chain per cache x origin x protocol (`through`,
id `CACHE@ORIGIN-protocol`). A file fresh at the origin is read through the cache; then the origin's copy is
replaced and the file read through the cache again.

The files are written at the origin in the run's directory there, which plugins/cleanup.py removes as any
other; what the cache keeps of them it purges by its own rules. One file outlives the run: the cache's held
file, `<prefix>/cache-held/<cache>.dat` at each origin, 4 KiB of the same bytes every round, which every
round reads through the cache so that it holds it when a round finds the origin out of reach.
"""

import hashlib
import os
import re
import time
import uuid
from dataclasses import dataclass, field

import pytest

from lakeprobe import preflight, xcache
from lakeprobe.areas import RunArea, random_file, same_content
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ErrorClass, InDowntime, NotProbed, ProbeError, ProbeFailure
from lakeprobe.inventory import RSE, Cache
from lakeprobe.protocols import registry
from lakeprobe.records import Record, Status
from lakeprobe.state import RunState
from lakeprobe.steps import Steps
from lakeprobe.storage import Storage
from plugins.records import note_step
from plugins.run import run_state

# The cache itself answered the read (an error from the server, an HTTP 5xx), rather than not being reached.
ANSWERED = re.compile(r"Server responded with an error|HTTP 5\d\d")
# What says the probe cannot reach the origin either (rather than that the origin refused something).
OUT_OF_REACH = (ErrorClass.UNREACHABLE, ErrorClass.TIMEOUT, ErrorClass.TLS)
HELD_SIZE = 4096


def held_bytes(cache: str) -> bytes:
    """The held file's bytes, the same in every round: what the cache serves of it is judged without its
    origin."""
    return hashlib.shake_256(f"lakeprobe: the file {cache} holds".encode()).digest(HELD_SIZE)


def _content(local: str) -> bytes:
    with open(local, "rb") as f:
        return f.read()


@dataclass(frozen=True)
class Through:
    cache: Cache
    origin: RSE
    protocol: str

    @property
    def id(self) -> str:
        return f"{self.cache.name}@{self.origin.name}-{self.protocol}"

    @property
    def origin_protocol(self) -> str:
        """What the probe writes at the origin with: root:// where the origin has it (a cache keeps its
        origin's file open a while after a read, and XRootD refuses a WebDAV PUT over a file open elsewhere,
        HTTP 423, where a root:// open that truncates is let through), else the cache's protocol."""
        for protocol in ("root", self.protocol):
            if protocol in self.origin.protocols:
                return protocol
        return next(iter(self.origin.protocols))


def pytest_generate_tests(metafunc):
    state = run_state(metafunc.config)
    if state is None or "through" not in metafunc.fixturenames:
        return
    found = [
        Through(cache, state.inventory.rses[origin], protocol)
        for cache in state.selection.caches
        for origin in cache.origins
        for protocol in state.selection.protocols
        if protocol in cache.protocols
    ]
    metafunc.parametrize("through", [pytest.param(t, id=t.id) for t in found])


@dataclass
class CacheChain(Steps):
    """One cache x origin x protocol: the file at the origin, the same path through the cache, the bytes
    the origin was last given."""

    through: Through
    endpoint: RSE  # the cache, as the storage layer sees it
    storage: Storage
    area: RunArea
    path: str  # the probe's file, at the origin and through the cache
    origin_dir: str
    origin_url: str
    cache_url: str
    held_at_origin: str
    held_in_cache: str
    written: str = ""  # a local file: what the origin holds now, as far as the probe knows
    served: str = ""  # a local file: what the cache served last
    served_at: float = 0.0  # when it did (time.monotonic)
    versions: list[str] = field(default_factory=list)  # every local file the origin was given, in order
    files: list[str] = field(default_factory=list)

    def __post_init__(self):
        Steps.__init__(self)

    def reach_cache(self):
        """The cache's door, as the preflight reaches an RSE's (TLS first): no token goes to a root:// door
        that offers no TLS, and a door that does not answer fails here, once."""
        reached = preflight.connect(self.endpoint, self.through.protocol, self.storage.tokens, self.timeout_s)
        if reached["status"] == Status.ERROR:
            raise ProbeError(reached["error_class"], reached["message"], reached["blame"])
        if reached["status"] == Status.FAIL:
            raise ProbeFailure(reached["error_class"], reached["message"])

    def write_at_origin(self, size: int, record: Record) -> str:
        """New random bytes at the origin (a failure there is the origin's, not the cache's): the local copy."""
        local = self.local("cache-", size=size)
        self.put_at_origin(local, self.origin_url, record)
        self.written = local
        self.versions.append(local)
        return local

    def put_at_origin(self, local: str, url: str, record: Record):
        try:
            if not self.written:
                self.area.mkdir(self.through.origin, self.through.origin_protocol, self.origin_dir)
            self.storage.put(local, url)
        except ProbeFailure as e:
            record.blame = self.through.origin.name
            raise ProbeFailure(
                e.error_class, f"the origin {self.through.origin.name} did not take the file: {e}"
            ) from None

    def read_through(self) -> str:
        """The file read through the cache: a cache that answers but cannot serve it failed to fetch it from
        its origin, which just took it (its route or its credential there)."""
        local = self.local("cache-read-")
        try:
            self.storage.get(self.cache_url, local)
        except ProbeFailure as e:
            if not self.answered(e):
                raise
            raise ProbeFailure(
                e.error_class if e.error_class != ErrorClass.UNKNOWN else ErrorClass.PROTOCOL_ERROR,
                f"{self.through.cache.name} answered but did not serve the file from its origin "
                f"{self.through.origin.name}: {e}",
            ) from None
        self.served, self.served_at = local, time.monotonic()
        return local

    def local(self, prefix: str, data: bytes = b"", size: int = 0) -> str:
        """A new local file, removed at the end of the session: `size` random bytes, or `data`."""
        local = random_file(size, prefix)
        self.files.append(local)
        if data:
            with open(local, "wb") as f:
                f.write(data)
        return local

    def origin_out_of_reach(self) -> tuple[str, bool]:
        """Why the probe cannot reach the origin either ('' when it can, and then the origin holds the held
        file's bytes), and whether the origin hangs (took a request and never answered) rather than refusing.
        The origin's failing to keep the held file is not the cache's: the check is then not tried."""
        origin = self.through.origin.name
        try:
            self.storage.stat(self.held_at_origin)
            there = self.local("cache-held-origin-")
            self.storage.get(self.held_at_origin, there)
            if _content(there) == self.held:
                return "", False
        except NotProbed as e:
            return str(e), "timed out" in str(e)
        except ProbeFailure as e:
            if e.error_class in OUT_OF_REACH:
                return str(e), e.error_class == ErrorClass.TIMEOUT
            if e.error_class != ErrorClass.NOT_FOUND:
                raise NotProbed(f"not tried: the origin {origin} cannot give the held file: {e}") from None
        try:
            self.storage.mkdir(self.held_at_origin.rsplit("/", 1)[0])
            self.storage.put(self.local("cache-held-", self.held), self.held_at_origin)
        except (ProbeFailure, NotProbed) as e:
            raise NotProbed(f"not tried: the origin {origin} did not take the held file: {e}") from None
        return "", False

    def read_held(self) -> bytes:
        """The held file read through the cache (a read that fails raises): its bytes."""
        got = self.local("cache-held-read-")
        self.storage.get(self.held_in_cache, got)
        return _content(got)

    def never_written(self) -> str:
        """A path at the origin nobody wrote."""
        return f"{self.path}.never-written-{uuid.uuid4().hex[:12]}"

    def read_alone(self, path: str) -> bytes:
        """`path` read through the cache with the probe's token, on a connection of its own closed after
        it: XCache evicts no file that is open, and a file read over the probe's pooled clients was once
        seen to stay so."""
        url, timeout = self.endpoint.url(self.through.protocol, path), self.timeout_s
        protocol = registry.for_url(url)
        token = self.storage.token_for(self.endpoint, protocol)
        done = call_with_deadline(lambda: protocol.read_as(url, token, timeout), timeout, "a read")
        if not done:
            raise ProbeFailure(ErrorClass.AUTH_DENIED, f"{self.through.cache.name} refused the probe's token")
        return done.value

    def evict(self, path: str, token: str) -> str:
        """Asks the cache over root:// to drop its copy of `path` (XCache's remove command): what it answered.
        root:// only: there the token is the connection's login, which the cache does not pass on, where over
        davs XrdHttp puts it into the query that a cache with the command off hands to its origin with the
        path. The reads after it judge (XCache answers the command with an error; with the command off,
        the origin refuses or does not find the path)."""
        url, timeout = self.endpoint.url("root", xcache.remove_path(path)), self.timeout_s
        try:
            done = call_with_deadline(
                lambda: registry.for_url(url).read_as(url, token, timeout), timeout, "an eviction"
            )
        except ProbeFailure as e:
            return str(e)
        return "it read the command's path as a file" if done else "refused, on authorization grounds"

    @property
    def held(self) -> bytes:
        return held_bytes(self.through.cache.name)

    @staticmethod
    def answered(error: Exception) -> bool:
        """The cache itself answered (an error of its own), rather than not being reached."""
        return bool(ANSWERED.search(str(error)))

    @property
    def timeout_s(self) -> float:
        return self.endpoint.timeout_s or self.storage.timeout_s

    def judge_other_bytes(self, got: str, record: Record):
        """The cache served other bytes than the origin was given: the origin's own copy says whose fault."""
        origin = self.through.origin.name
        direct = self.local("cache-origin-")
        self.storage.get(self.origin_url, direct)
        if not same_content(direct, self.written):
            record.blame = origin
            raise ProbeFailure(
                ErrorClass.CONTENT_MISMATCH,
                f"the origin {origin} holds other bytes than it was given, and the cache serves those",
            )
        raise ProbeFailure(
            ErrorClass.CONTENT_MISMATCH,
            f"read through {self.through.cache.name}, {os.path.getsize(got)} bytes that are not the origin's "
            f"{os.path.getsize(self.written)}",
        )


@pytest.fixture(scope="session")
def cache_chains():
    made: dict = {}
    yield made
    for chain in made.values():
        for local in chain.files:
            if os.path.exists(local):
                os.unlink(local)


@pytest.fixture
def cache_chain(through: Through, cache_chains, tokens, run: RunState, record) -> CacheChain:
    cache, origin, protocol = through.cache, through.origin, through.protocol
    record.rse, record.protocol = cache.name, protocol
    if origin.downtime:
        raise InDowntime(f"downtime of its origin {origin.name}: {origin.downtime}")
    if through.id not in cache_chains:
        endpoint = cache.endpoint(origin)
        storage = Storage(tokens, run.options.timeout, [origin, endpoint], run.slots, run.breaker)
        directory = f"{run.area(origin)}/cache-{cache.name}-{protocol}"
        path, held = f"{directory}/probe.dat", f"{origin.prefix}/cache-held/{cache.name}.dat"
        cache_chains[through.id] = CacheChain(
            through,
            endpoint,
            storage,
            RunArea(run, storage),
            path=path,
            origin_dir=origin.url(through.origin_protocol, directory),
            origin_url=origin.url(through.origin_protocol, path),
            cache_url=endpoint.url(protocol, path),
            held_at_origin=origin.url(through.origin_protocol, held),
            held_in_cache=endpoint.url(protocol, held),
        )
    return cache_chains[through.id]


@pytest.fixture
def step(cache_chain, record, request):
    """Notes how this step ended for the steps behind it."""
    yield cache_chain
    note_step(cache_chain, record, request.node)
