"""The Rucio suite's parameters and shared fixtures: one chain per RSE x protocol (`rucio_endpoint`), each a
fresh file of the probe scope uploaded, found, downloaded and ruled through Rucio; the deletion check per
RSE x protocol too.

Everything the suite makes lives in the probe scope, with a lifetime: the rules it made are removed when
the run ends (their replicas then go to Rucio's reaper), and the DIDs expire should that removal not run.
"""

import os
import uuid
from dataclasses import dataclass

import pytest

from lakeprobe.areas import random_file
from lakeprobe.catalogue import Catalogue
from lakeprobe.checksums import Expected
from lakeprobe.errors import InDowntime, ProbeError, ProbeFailure
from lakeprobe.ids import CheckId
from lakeprobe.inventory import RSE
from lakeprobe.state import RunState
from lakeprobe.steps import Steps
from lakeprobe.storage import Storage
from plugins.records import note_step
from plugins.run import run_state


def pytest_generate_tests(metafunc):
    state = run_state(metafunc.config)
    if state is None or "rucio_endpoint" not in metafunc.fixturenames:
        return
    selection = state.selection
    endpoints = [
        pytest.param((rse, p), id=str(CheckId(rse.name, p)))
        for rse in selection.rses
        for p in selection.protocols_of(rse)
        if p != "file"  # Rucio reaches storage over the network
    ]
    metafunc.parametrize("rucio_endpoint", endpoints)


@pytest.fixture(scope="session")
def rucio_storage(run: RunState, tokens, catalogue) -> Storage:
    """The storage layer, to see for ourselves what Rucio says is there (with the token Rucio's clients use)."""
    client = catalogue.settings.token_client
    return Storage(tokens, run.options.timeout, run.inventory.rses.values(), run.slots, run.breaker, client)


# -- the chain ---------------------------------------------------------------------------------------
@dataclass
class RucioFile(Steps):
    """One RSE x protocol's file through Rucio, and how each step ended (as suites/site's chain)."""

    rse: RSE
    protocol: str
    scope: str
    name: str
    local: str
    size: int
    expected: Expected

    def __post_init__(self):
        Steps.__init__(self)

    @property
    def did(self) -> dict:
        return {"scope": self.scope, "name": self.name}


@pytest.fixture(scope="session")
def rucio_files(catalogue):
    made: dict = {}
    yield made
    for found in made.values():
        if os.path.exists(found.local):
            os.unlink(found.local)
        _remove_rules(catalogue, found)


def _remove_rules(catalogue: Catalogue, found: RucioFile):
    """The run's rules on its file, the upload's among them: the file's replicas become the reaper's to
    delete (rucio_deletion checks later that it did). Rucio deletes a rule softly: it stays until its
    expiry (the suite's lifetime, at most an hour), when Rucio's judge-cleaner removes it."""
    if "rucio_upload" not in found.outcomes:
        return
    try:
        client = catalogue.client()
        rules = catalogue.call("list rules", lambda: list(client.list_did_rules(found.scope, found.name)))
        for rule in rules:
            if rule["account"] == catalogue.account:
                catalogue.call(
                    "remove rule", lambda r=rule: client.delete_replication_rule(r["id"], purge_replicas=True)
                )
    except (ProbeError, ProbeFailure):
        pass  # their lifetime ends them


@pytest.fixture
def rucio_file(rucio_endpoint, rucio_files, run, record, catalogue) -> RucioFile:
    rse, protocol = rucio_endpoint
    record.rse, record.protocol = rse.name, protocol
    key = (rse.name, protocol)
    if key not in rucio_files:
        local = random_file(run.options.file_size)
        name = f"{run.run_id}-{rse.name}-{protocol}-{uuid.uuid4().hex[:8]}"
        rucio_files[key] = RucioFile(
            rse, protocol, catalogue.scope, name, local, run.options.file_size, Expected(local)
        )
    if rse.downtime:
        raise InDowntime(f"downtime of {rse.name}: {rse.downtime}")
    return rucio_files[key]


@pytest.fixture
def rucio_step(rucio_file, record, request):
    """Notes how this step ended (its record is settled by now) for the steps behind it."""
    yield rucio_file
    note_step(rucio_file, record, request.node)
