"""The credentials suite's parameters and shared fixtures: each module's checks per RSE x protocol (of the
module's PROTOCOLS) of the RSEs the inventory marks for it (its RSES_WITH: `x509: true`, `macaroons: true`), or per
ordered pair of them x copy mode over davs (`macaroon_copy`), with the proxies of the inventory's `x509:`
section.

The checks write in the run's directory on the RSE, `<prefix>/<run id>/<RSES_WITH>`, which the probe's
token makes and plugins/cleanup.py removes as any other.
"""

from dataclasses import dataclass, field

import pytest

from lakeprobe.areas import RunArea
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import InDowntime, NotProbed
from lakeprobe.ids import CheckId
from lakeprobe.inventory import RSE
from lakeprobe.macaroons import request
from lakeprobe.protocols import registry
from lakeprobe.protocols.base import Outcome
from lakeprobe.state import RunState
from lakeprobe.steps import Steps
from lakeprobe.storage import Storage
from lakeprobe.x509 import ProxyClient, unexpired
from plugins.records import note_step
from plugins.run import run_state


def pytest_generate_tests(metafunc):
    state = run_state(metafunc.config)
    if state is None:
        return
    selection, marked = state.selection, getattr(metafunc.module, "RSES_WITH", "")
    if "endpoint" in metafunc.fixturenames:
        endpoints = [
            (rse, p)
            for rse in selection.rses
            if getattr(rse, marked)
            for p in selection.protocols_of(rse)
            if p in metafunc.module.PROTOCOLS
        ]
        metafunc.parametrize("endpoint", [pytest.param(e, id=str(CheckId(e[0].name, e[1]))) for e in endpoints])
    if "macaroon_copy" in metafunc.fixturenames:
        copies = [
            MacaroonCopy(a, b, mode)
            for a, b in selection.tpc_pairs()
            if getattr(a, marked) and getattr(b, marked) and all("davs" in selection.protocols_of(r) for r in (a, b))
            for mode in MacaroonCopy.MODES
        ]
        metafunc.parametrize("macaroon_copy", [pytest.param(c, id=c.id) for c in copies])


@dataclass(frozen=True)
class MacaroonCopy:
    """An HTTP third-party copy over davs whose other end is authorized by a macaroon it issued."""

    MODES = ("pull", "push")
    source: RSE
    destination: RSE
    mode: str

    @property
    def check(self) -> str:
        return f"davs_{self.mode}_macaroon"

    @property
    def id(self) -> str:
        return str(CheckId(self.destination.name, "davs", source=self.source.name, mode=f"{self.mode}_macaroon"))


@dataclass
class CredentialEndpoint(Steps):
    """One RSE x protocol for one module's checks: where they write, and how each step ended."""

    rse: RSE
    protocol: str
    directory: str
    client: ProxyClient | None  # None: the inventory has no `x509:` section
    token: str = field(repr=False)  # the probe's token for this RSE: a secret, never shown
    timeout_s: float
    macaroon: str = field(default="", repr=False)  # the one the storage issued (test_macaroons.py): a secret

    def __post_init__(self):
        Steps.__init__(self)

    def url(self, name: str) -> str:
        return f"{self.directory}/{name}"

    def ask_macaroon(self, url: str, activities: str, validity_s: int, anonymous: bool = False) -> str:
        """A macaroon the storage issues for `url`, asked for with the probe's VOMS proxy where the RSE takes
        X.509, else its token; `anonymous`, with no credential at all."""
        proxy = self.proxy("proxy") if self.rse.x509 and not anonymous else None
        token = None if proxy or anonymous else self.token
        return request(url, activities, validity_s, self.timeout_s, token=token, proxy=proxy)

    def with_bearer(self, verb: str, url: str, credential: str | None, *args) -> Outcome:
        """One request (`read`, `write`, `delete`...) with exactly `credential` as the bearer token, to the
        deadline: what the storage did."""
        call = getattr(registry.for_url(url), f"{verb}_as")
        return call_with_deadline(lambda: call(url, credential, *args, self.timeout_s), self.timeout_s, verb)

    def proxy(self, kind: str) -> str:
        """The inventory's proxy of this kind; without it, the check is not tried. The probe's own, expired,
        is lakeprobe's error."""
        path = getattr(self.client.x509, kind) if self.client else None
        if not path:
            raise NotProbed(f"not tried: no `x509.{kind}` in the inventory")
        if kind == "proxy":
            unexpired(path)
        return path


@pytest.fixture(scope="session")
def credential_endpoint_of(tokens, run: RunState):
    """The CredentialEndpoint of (RSE, protocol, the module's RSES_WITH), its directories made on first use."""
    made: dict = {}

    def endpoint_of(rse: RSE, protocol: str, marked: str) -> CredentialEndpoint:
        key = (marked, rse.name, protocol)
        if key not in made:
            storage = Storage(tokens, run.options.timeout, [rse], run.slots, run.breaker)
            area = RunArea(run, storage)
            directory = area.directory(rse, protocol, marked)
            timeout_s = rse.timeout_s or run.options.timeout
            client = ProxyClient(run.inventory.x509, timeout_s) if run.inventory.x509 else None
            token = storage.token_for(rse, registry.get(protocol))
            made[key] = CredentialEndpoint(rse, protocol, directory, client, token, timeout_s)
            area.mkdir(rse, protocol, area.directory(rse, protocol))
            area.mkdir(rse, protocol, directory)
        return made[key]

    return endpoint_of


@pytest.fixture
def credential_endpoint(endpoint, credential_endpoint_of, record, request) -> CredentialEndpoint:
    rse, protocol = endpoint
    record.rse, record.protocol = rse.name, protocol
    if rse.downtime:
        raise InDowntime(f"downtime: {rse.downtime}")
    return credential_endpoint_of(rse, protocol, request.module.RSES_WITH)


@pytest.fixture
def step(credential_endpoint, record, request):
    """Notes how this step ended for the steps behind it."""
    yield credential_endpoint
    note_step(credential_endpoint, record, request.node)
