"""Parametrization of the site suite: one chain per RSE x protocol, one copy per ordered pair x TPC mode,
and the authorization area each RSE x protocol's token checks work in.

The chain of one RSE runs in one xdist worker, in order (`--dist loadgroup`); its authorization checks are
a group of their own, and so are the copies of an ordered pair, so that they run side by side. The load on
one RSE is capped by its operation slots (--rse-concurrency), not by the grouping.
"""
import os
import tempfile
import uuid
from dataclasses import dataclass, field

import pytest

from lakeprobe.access import Access
from lakeprobe.errors import ProbeError, ProbeFailure
from lakeprobe.storage import Storage, adler32_of
from plugins.lake import rse_slots
from plugins.records import Downtime


@dataclass
class Chain:
    """What one RSE x protocol chain has done so far, so that a step skips when a step it needs failed."""
    rse: object
    protocol: str
    directory: str
    file_url: str
    data: bytes
    adler32: str
    local: str
    outcomes: dict = field(default_factory=dict)  # step -> "" when it passed, else why it did not

    def needs(self, *steps):
        for step in steps:
            if step not in self.outcomes:
                pytest.skip(f"needs {step}, which did not run")
            if self.outcomes[step]:
                pytest.skip(f"{step} failed: {self.outcomes[step]}")


def pytest_generate_tests(metafunc):
    selection = metafunc.config.lake_selection
    if selection is None:
        return
    if "endpoint" in metafunc.fixturenames:
        token_checks = "area" in metafunc.fixturenames
        metafunc.parametrize("endpoint", [
            pytest.param((rse, p), id=f"{rse.name}-{p}",
                         marks=pytest.mark.xdist_group(rse.name + ("-authz" if token_checks else "")))
            for rse in selection.rses for p in selection.protocols_of(rse)])
    if "copy_pair" in metafunc.fixturenames:
        mode = metafunc.function.__name__.rsplit("_", 1)[-1]  # test_davs_pull -> pull
        protocol = "root" if mode == "tpc" else "davs"
        pairs = [(a, b) for a, b in selection.tpc_pairs()
                 if protocol in a.protocols and protocol in b.protocols and protocol in selection.protocols]
        metafunc.parametrize("copy_pair", [
            pytest.param((a, b), id=f"{a.name}-{b.name}", marks=pytest.mark.xdist_group(f"{a.name}-{b.name}"))
            for a, b in pairs])


def pytest_xdist_auto_num_workers(config):
    # Checks mostly wait on the storage (a root:// TPC is 2.5 s of server time): two workers per RSE, so
    # that copies run side by side; the per-RSE slots keep each site's load within its cap.
    return min(24, 2 * len(config.lake_selection.rses)) if config.lake_selection else 2


@pytest.fixture(scope="session")
def storage(tokens, lake, request) -> Storage:
    return Storage(tokens, timeout_s=request.config.getoption("--timeout"), rses=list(lake.inventory.rses.values()),
                   slots=rse_slots(request.config))


class RunArea:
    """The run's own directory on each RSE, `<prefix>/<run id>/`; remembers where this process made one."""

    def __init__(self, run_id: str, storage: Storage, rses: dict):
        self.run_id, self.storage, self.rses, self.made = run_id, storage, rses, set()

    def directory(self, rse, protocol: str, sub: str = "") -> str:
        return rse.url(protocol, f"{rse.prefix}/{self.run_id}/{sub}".rstrip("/"))

    def mkdir(self, rse, protocol: str, sub: str):
        done = self.storage.mkdir(self.directory(rse, protocol, sub))
        self.made.add((rse.name, protocol))
        return done

    def remove_empty(self, made=None):
        """Removes the run's directories where a mkdir worked (so an endpoint that never answered costs
        nothing here), once every chain and copy of the run is over."""
        for name, protocol in made or self.made:
            rse = self.rses[name]
            for sub in ("tpc", ""):
                try:
                    self.storage.rmdir(self.directory(rse, protocol, sub))
                except (ProbeFailure, ProbeError):
                    pass


@pytest.fixture(scope="session")
def run_area(request, storage, lake):
    area = RunArea(request.config.lake_run_id, storage, lake.inventory.rses)
    yield area
    if hasattr(request.config, "workeroutput"):  # other workers may still be copying: the controller removes
        request.config.workeroutput["lakeprobe_run_dirs"] = list(area.made)
    else:
        area.remove_empty()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    made = getattr(node.config, "lake_run_dirs", set())
    made.update(map(tuple, getattr(node, "workeroutput", {}).get("lakeprobe_run_dirs", [])))
    node.config.lake_run_dirs = made


def pytest_sessionfinish(session):
    made = getattr(session.config, "lake_run_dirs", None)
    if made:  # the xdist controller, after every worker is done
        config, rses = session.config, session.config.lake_selection.inventory.rses
        storage = Storage(config.lake_tokens, config.getoption("--timeout"), rses=list(rses.values()))
        RunArea(config.lake_run_id, storage, rses).remove_empty(made)


@pytest.fixture(scope="session")
def chains(request, storage, run_area):
    made = {}
    yield made
    for chain in made.values():  # cleanup even when checks failed; a killed run is swept later
        for url, remove, created_by, removed_by in ((chain.file_url, storage.delete, "upload", "delete"),
                                                    (chain.directory, storage.rmdir, "mkdir", None)):
            # Only what this chain may have created, and not what it removed: cleaning up must not
            # spend deadlines on an endpoint that never took anything.
            ran = chain.outcomes.get(created_by, "skip")
            if (ran == "" or ran.startswith(("fail", "error"))) and chain.outcomes.get(removed_by) != "":
                try:
                    remove(url)
                except Exception:
                    pass
        if os.path.exists(chain.local):
            os.unlink(chain.local)


@pytest.fixture
def chain(endpoint, chains, run_area, record, request) -> Chain:
    rse, protocol = endpoint
    record.rse, record.protocol = rse.name, protocol
    if rse.downtime:
        raise Downtime(f"downtime: {rse.downtime}")
    key = (rse.name, protocol)
    if key not in chains:
        size = request.config.getoption("--file-size")
        data = os.urandom(size)
        directory = run_area.directory(rse, protocol, protocol)
        local = os.path.join(tempfile.gettempdir(), f"lakeprobe-{uuid.uuid4().hex}")
        with open(local, "wb") as f:
            f.write(data)
        chains[key] = Chain(rse, protocol, directory, f"{directory}/probe-{uuid.uuid4().hex[:12]}.dat",
                            data, adler32_of(data), local)
    return chains[key]


@pytest.fixture
def step(chain, record, request):
    """Notes how this chain step ended (its record is settled by now) for the steps behind it."""
    yield chain
    name = request.node.originalname.removeprefix("test_")
    if not getattr(request.node, "lake_recorded", False):
        chain.outcomes[name] = "did not finish"
    elif record.status in ("pass", "warn"):
        chain.outcomes[name] = ""
    else:
        chain.outcomes[name] = record.status + (f" ({record.error_class})" if record.error_class else "")


@dataclass
class AuthzArea:
    """The run's directory on one RSE x protocol where the token checks work, with a file the probe token
    placed there for them to read; `problem` says why it could not be prepared."""
    rse: object
    protocol: str
    directory: str
    access: Access
    data: bytes = b""
    problem: str = ""
    embargoed: str = ""  # the owner's file in the embargoed area, until it is published

    @property
    def readable(self) -> str:
        return self.url("readable.dat")

    def url(self, name: str) -> str:
        return f"{self.directory}/{name}"


@pytest.fixture(scope="session")
def authz_areas(tokens, storage, run_area):  # run_area: its directory is removed after the areas in it
    made = {}
    yield made
    for area in made.values():  # with the tokens that may: the embargoed file, then everything in the area
        try:
            if area.embargoed:
                area.access.delete(area.embargoed, tokens.token("embargo-owner"))
            probe = tokens.token("probe")
            for name in area.access.listing(area.directory, probe) or []:
                area.access.delete(area.url(name), probe)
            storage.rmdir(area.directory)
        except (ProbeFailure, ProbeError):
            pass


@pytest.fixture
def area(endpoint, authz_areas, run_area, tokens, preflight, record, request) -> AuthzArea:
    rse, protocol = endpoint
    record.rse, record.protocol = rse.name, protocol
    if rse.downtime:
        raise Downtime(f"downtime: {rse.downtime}")
    reach = preflight.get(f"{rse.name}|{protocol}", {})
    if reach.get("status") == "fail":
        pytest.skip(f"connection failed ({reach['error_class']})")
    if (rse.name, protocol) not in authz_areas:
        sub = f"authz-{protocol}"
        made = AuthzArea(rse, protocol, run_area.directory(rse, protocol, sub),
                         Access(rse.timeout_s or request.config.getoption("--timeout")), os.urandom(1024))
        try:
            run_area.mkdir(rse, protocol, sub)
            if not made.access.write(made.readable, tokens.token("probe"), made.data):
                raise ProbeFailure("auth_denied", "the probe token may not write there")
        except ProbeFailure as e:
            made.problem = str(e)
        authz_areas[(rse.name, protocol)] = made
    found = authz_areas[(rse.name, protocol)]
    if found.problem:
        pytest.skip(f"the authorization area could not be prepared: {found.problem}")
    return found


@pytest.fixture
def needs_client(tokens):
    """Skips the check when the lake cannot issue a token of this client (no issuer, or not declared)."""
    def needs_client(client: str):
        if not tokens.has_issuer:
            pytest.skip(f"needs the issuer's `{client}` client: Bearer Token Discovery finds one token only")
        if tokens.client_scopes and client not in tokens.client_scopes:
            pytest.skip(f"the inventory's issuer declares no `{client}` client")
    return needs_client


@pytest.fixture
def token_of(tokens, needs_client):
    """The token of one of the inventory's issuer clients; the check skips when the lake cannot issue it."""
    def token_of(client: str) -> str:
        needs_client(client)
        return tokens.token(client)
    return token_of
