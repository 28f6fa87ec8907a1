"""The site suite's parameters and shared fixtures: one chain per RSE x protocol (`endpoint`; with
`--per-address` one per address family of its host, each forced to that family), one copy per ordered
pair x protocol x copy mode (`copy`), and the areas the checks write in.

Which checks share an xdist worker is plugins/scheduling.py's; what a round leaves behind is removed by
plugins/cleanup.py.
"""

import os
import uuid
from dataclasses import dataclass

import pytest

from lakeprobe import preflight
from lakeprobe.areas import AuthzArea, RunArea, random_file
from lakeprobe.checksums import Expected
from lakeprobe.errors import InDowntime, NotProbed, ProbeError, ProbeFailure
from lakeprobe.ids import CheckId
from lakeprobe.inventory import RSE
from lakeprobe.protocols import registry
from lakeprobe.state import RunState
from lakeprobe.steps import Steps
from lakeprobe.storage import Storage
from plugins.records import note_step
from plugins.run import run_state


@dataclass(frozen=True)
class Copy:
    source: RSE
    destination: RSE
    protocol: str
    mode: str

    @property
    def check(self) -> str:
        return registry.get(self.protocol).copy_modes[self.mode]

    @property
    def id(self) -> str:
        return str(CheckId(self.destination.name, self.protocol, source=self.source.name, mode=self.mode))


def pytest_generate_tests(metafunc):
    state = run_state(metafunc.config)
    if state is None:
        return
    selection = state.selection
    chains = _chains(state)
    if "chain" in metafunc.fixturenames:
        metafunc.parametrize("endpoint", [pytest.param(c, id=str(CheckId(c[0].name, c[1], c[2]))) for c in chains])
    elif "endpoint" in metafunc.fixturenames:
        endpoints = [(rse, p) for rse in selection.rses for p in selection.protocols_of(rse)]
        if "other_audience" in metafunc.fixturenames:  # only where RSEs take tokens for audiences of their own
            endpoints = [(rse, p) for rse, p in endpoints if _other_audiences(state.inventory, rse)]
        metafunc.parametrize("endpoint", [pytest.param(e, id=str(CheckId(e[0].name, e[1]))) for e in endpoints])
    if "family" in metafunc.fixturenames:  # the address families the preflight reached each endpoint at
        chained = {(rse.name, p, f) for rse, p, f in chains}  # a forced chain's connection is its family's
        families = [
            pytest.param((rse, p, family), id=str(CheckId(rse.name, p, family)))
            for rse in selection.rses
            for p in selection.protocols_of(rse)
            for family in preflight.FAMILY_NAMES
            if preflight.key(rse, p, family) in state.preflight and (rse.name, p, family) not in chained
        ]
        metafunc.parametrize("family", families)
    if "copy" in metafunc.fixturenames:
        copies = [Copy(*c) for c in selection.copies()]
        metafunc.parametrize("copy", [pytest.param(c, id=c.id) for c in copies])


def _chains(state: RunState) -> list[tuple[RSE, str, str]]:
    """(RSE, protocol, family) of every chain: family "" goes to the address the resolver picks, as the lake's
    clients do; with --per-address, also one chain per family the endpoint's host has an address of, forced
    to it (its connection check is that family's)."""
    found = []
    for rse in state.selection.rses:
        for p in state.selection.protocols_of(rse):
            found.append((rse, p, ""))
            if state.options.per_address:
                found += [
                    (rse, p, f)
                    for f in preflight.FAMILY_NAMES
                    if state.preflight.get(preflight.key(rse, p, f), {}).get("address")
                ]
    return found


MODULE_ORDER = ("test_storage", "test_tpc", "test_authz", "test_embargo")


def pytest_collection_modifyitems(items):
    """The chain first: an endpoint that breaks is found by its first steps, and what follows skips."""
    rank = {name: n for n, name in enumerate(MODULE_ORDER)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


@pytest.fixture(scope="session")
def run_area(run: RunState, storage) -> RunArea:
    return RunArea(run, storage)


@pytest.fixture
def retries(run):
    return run.options.retries


# -- the chain ---------------------------------------------------------------------------------------
@dataclass
class Chain(Steps):
    """One RSE x protocol's chain (at the resolver's choice, or forced to one family): its probe file, and
    how each step ended."""

    rse: RSE
    protocol: str
    family: str  # "" (the resolver's choice), ipv4 or ipv6
    storage: Storage  # pinned to the family
    directory: str
    file_url: str
    local: str
    size: int
    expected: Expected

    def __post_init__(self):
        Steps.__init__(self)


@pytest.fixture(scope="session")
def chains():
    made: dict = {}
    yield made
    for chain in made.values():
        if os.path.exists(chain.local):
            os.unlink(chain.local)


@pytest.fixture
def chain(endpoint, chains, storage, run_area, run, record) -> Chain:
    rse, protocol, family = endpoint
    record.rse, record.protocol, record.family = rse.name, protocol, family
    key = (rse.name, protocol, family)
    if key not in chains:
        local = random_file(run.options.file_size)
        directory = run_area.directory(rse, protocol, protocol)
        chains[key] = Chain(
            rse,
            protocol,
            family,
            storage.pinned(family),
            directory,
            f"{directory}/probe-{uuid.uuid4().hex[:12]}.dat",
            local,
            run.options.file_size,
            Expected(local),
        )
    if rse.downtime:  # a broken endpoint is the connection check's to report: the steps behind it skip
        raise InDowntime(f"downtime of {rse.name}: {rse.downtime}")
    return chains[key]


@pytest.fixture
def step(chain, record, request):
    """Notes how this chain step ended (its record is settled by now) for the steps behind it."""
    yield chain
    note_step(chain, record, request.node)


# -- the token checks' area --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def authz_areas(tokens):
    made: dict = {}
    yield made
    for area in made.values():  # the owners' embargoed file, if it was not published (the rest: cleanup)
        if area.embargoed:
            try:
                area.delete(area.embargoed, tokens.token("embargo-owner", area.rse.audience))
            except (ProbeFailure, ProbeError, NotProbed):
                pass


@pytest.fixture
def area(endpoint, authz_areas, run_area, tokens, run, record) -> AuthzArea:
    rse, protocol = endpoint
    record.rse, record.protocol = rse.name, protocol
    run.require(endpoint)
    if not registry.get(protocol).takes_tokens:
        pytest.skip(f"{protocol}:// has no token authorization")
    if (rse.name, protocol) not in authz_areas:
        directory = run_area.directory(rse, protocol, f"authz-{protocol}")
        made = AuthzArea(rse, protocol, directory, rse.timeout_s or run.options.timeout, os.urandom(1024))
        try:
            run_area.mkdir(rse, protocol, directory)
            if not made.write(made.readable, tokens.token("probe", rse.audience), made.data):
                raise ProbeFailure("auth_denied", "the probe token may not write there")
        except ProbeFailure as e:
            made.problem = str(e)
        authz_areas[(rse.name, protocol)] = made
    found = authz_areas[(rse.name, protocol)]
    if found.problem:
        raise NotProbed(f"not tried: the token checks' area could not be prepared: {found.problem}")
    return found


def _other_audiences(inventory, rse) -> list[str]:
    """The other RSEs' own audiences, for an RSE with one of its own."""
    if not rse.audience:
        return []
    return sorted({r.audience for r in inventory.rses.values() if r.audience} - {rse.audience})


@pytest.fixture
def other_audience(endpoint, run) -> str:
    """Another RSE's own audience (the check runs only for an RSE with one of its own, beside another)."""
    return _other_audiences(run.inventory, endpoint[0])[0]


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
def token_of(tokens, needs_client, endpoint):
    """The token of one of the inventory's issuer clients for the RSE's audience; the check skips when the
    lake cannot issue it."""
    rse, _ = endpoint

    def token_of(client: str) -> str:
        needs_client(client)
        return tokens.token(client, rse.audience)

    return token_of
