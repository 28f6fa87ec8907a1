"""The credentials suite's parameters and shared fixtures: one set of X.509 checks per RSE x https protocol
of the RSEs the inventory marks `x509: true`, with the proxies of its `x509:` section.

The checks write in the run's directory on the RSE, `<prefix>/<run id>/x509`, which the probe's token
makes and plugins/cleanup.py removes as any other.
"""

from dataclasses import dataclass

import pytest

from lakeprobe.areas import RunArea
from lakeprobe.errors import InDowntime, NotProbed
from lakeprobe.ids import CheckId
from lakeprobe.inventory import RSE
from lakeprobe.state import RunState
from lakeprobe.steps import Steps
from lakeprobe.storage import Storage
from lakeprobe.x509 import HTTPS_PROTOCOLS, ProxyClient
from plugins.records import note_step
from plugins.run import run_state


def pytest_generate_tests(metafunc):
    state = run_state(metafunc.config)
    if state is None or "endpoint" not in metafunc.fixturenames:
        return
    selection = state.selection
    endpoints = [
        (rse, p) for rse in selection.rses if rse.x509 for p in selection.protocols_of(rse) if p in HTTPS_PROTOCOLS
    ]
    metafunc.parametrize("endpoint", [pytest.param(e, id=str(CheckId(e[0].name, e[1]))) for e in endpoints])


@dataclass
class X509Endpoint(Steps):
    """One RSE x protocol under X.509: where its checks write, and how each step ended."""

    rse: RSE
    protocol: str
    directory: str
    client: ProxyClient

    def __post_init__(self):
        Steps.__init__(self)

    def url(self, name: str) -> str:
        return f"{self.directory}/{name}"

    def proxy(self, kind: str) -> str:
        """The inventory's proxy of this kind; without it, the check is not tried."""
        path = getattr(self.client.x509, kind)
        if not path:
            raise NotProbed(f"not tried: no `x509.{kind}` in the inventory")
        return path


@pytest.fixture(scope="session")
def x509_endpoints():
    return {}


@pytest.fixture
def x509_endpoint(endpoint, x509_endpoints, tokens, run: RunState, record) -> X509Endpoint:
    rse, protocol = endpoint
    record.rse, record.protocol = rse.name, protocol
    if rse.downtime:
        raise InDowntime(f"downtime: {rse.downtime}")
    key = (rse.name, protocol)
    if key not in x509_endpoints:
        storage = Storage(tokens, run.options.timeout, [rse], run.slots, run.breaker)
        area = RunArea(run, storage)
        directory = area.directory(rse, protocol, "x509")
        client = ProxyClient(run.inventory.x509, rse.timeout_s or run.options.timeout)
        x509_endpoints[key] = X509Endpoint(rse, protocol, directory, client)
        area.mkdir(rse, protocol, area.directory(rse, protocol))
        area.mkdir(rse, protocol, directory)
    return x509_endpoints[key]


@pytest.fixture
def step(x509_endpoint, record, request):
    """Notes how this step ended for the steps behind it."""
    yield x509_endpoint
    note_step(x509_endpoint, record, request.node)
