"""The cache suite's parameters and shared fixtures: one chain per cache x origin x protocol (`through`,
id `CACHE@ORIGIN-protocol`). A file fresh at the origin is read through the cache; then the origin's copy is
replaced and the file read through the cache again.

The files are written at the origin in the run's directory there, which plugins/cleanup.py removes as any
other. What the cache keeps of them it purges by its own rules: lakeprobe cannot delete from a cache.
"""

import os
import re
from dataclasses import dataclass, field

import pytest

from lakeprobe import preflight
from lakeprobe.areas import RunArea, random_file, same_content
from lakeprobe.errors import ErrorClass, InDowntime, ProbeError, ProbeFailure
from lakeprobe.inventory import RSE, Cache
from lakeprobe.records import Record, Status
from lakeprobe.state import RunState
from lakeprobe.steps import Steps
from lakeprobe.storage import Storage
from plugins.records import note_step
from plugins.run import run_state

# The cache itself answered the read (an error from the server, an HTTP 5xx), rather than not being reached.
ANSWERED = re.compile(r"Server responded with an error|HTTP 5\d\d")


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
    origin_dir: str
    origin_url: str
    cache_url: str
    written: str = ""  # a local file: what the origin holds now, as far as the probe knows
    files: list[str] = field(default_factory=list)

    def __post_init__(self):
        Steps.__init__(self)

    def reach_cache(self):
        """The cache's door, as the preflight reaches an RSE's (TLS first): no token goes to a root:// door
        that offers no TLS, and a door that does not answer fails here, once."""
        timeout = self.endpoint.timeout_s or self.storage.timeout_s
        reached = preflight.connect(self.endpoint, self.through.protocol, self.storage.tokens, timeout)
        if reached["status"] == Status.ERROR:
            raise ProbeError(reached["error_class"], reached["message"], reached["blame"])
        if reached["status"] == Status.FAIL:
            raise ProbeFailure(reached["error_class"], reached["message"])

    def write_at_origin(self, size: int, record: Record) -> str:
        """New random bytes at the origin (a failure there is the origin's, not the cache's): the local copy."""
        local = random_file(size, "cache-")
        self.files.append(local)
        try:
            if not self.written:
                self.area.mkdir(self.through.origin, self.through.origin_protocol, self.origin_dir)
            self.storage.put(local, self.origin_url)
        except ProbeFailure as e:
            record.blame = self.through.origin.name
            raise ProbeFailure(
                e.error_class, f"the origin {self.through.origin.name} did not take the file: {e}"
            ) from None
        self.written = local
        return local

    def read_through(self) -> str:
        """The file read through the cache: a cache that answers but cannot serve it failed to fetch it from
        its origin, which just took it (its route or its credential there)."""
        local = random_file(0, "cache-read-")
        self.files.append(local)
        try:
            self.storage.get(self.cache_url, local)
        except ProbeFailure as e:
            if not ANSWERED.search(str(e)):
                raise
            raise ProbeFailure(
                e.error_class if e.error_class != ErrorClass.UNKNOWN else ErrorClass.PROTOCOL_ERROR,
                f"{self.through.cache.name} answered but did not serve the file from its origin "
                f"{self.through.origin.name}: {e}",
            ) from None
        return local

    def judge_other_bytes(self, got: str, record: Record):
        """The cache served other bytes than the origin was given: the origin's own copy says whose fault."""
        origin = self.through.origin.name
        direct = random_file(0, "cache-origin-")
        self.files.append(direct)
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
        cache_chains[through.id] = CacheChain(
            through,
            endpoint,
            storage,
            RunArea(run, storage),
            origin.url(through.origin_protocol, directory),
            origin.url(through.origin_protocol, f"{directory}/probe.dat"),
            endpoint.url(protocol, f"{directory}/probe.dat"),
        )
    return cache_chains[through.id]


@pytest.fixture
def step(cache_chain, record, request):
    """Notes how this step ended for the steps behind it."""
    yield cache_chain
    note_step(cache_chain, record, request.node)
