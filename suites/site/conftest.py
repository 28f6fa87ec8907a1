"""Parametrization of the site suite: one chain per RSE x protocol, one copy per ordered pair x TPC mode.

The tests of one RSE run in one xdist worker, in order (`--dist loadgroup`), which also caps the load a
round puts on a small site; the copies are grouped by destination.
"""
import os
import tempfile
import uuid
from dataclasses import dataclass, field

import pytest

from lakeprobe.errors import ProbeFailure
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
        metafunc.parametrize("endpoint", [
            pytest.param((rse, p), id=f"{rse.name}-{p}", marks=pytest.mark.xdist_group(rse.name))
            for rse in selection.rses for p in selection.protocols_of(rse)])
    if "copy_pair" in metafunc.fixturenames:
        mode = metafunc.function.__name__.rsplit("_", 1)[-1]  # test_davs_pull -> pull
        protocol = "root" if mode == "tpc" else "davs"
        pairs = [(a, b) for a, b in selection.tpc_pairs()
                 if protocol in a.protocols and protocol in b.protocols and protocol in selection.protocols]
        metafunc.parametrize("copy_pair", [
            pytest.param((a, b), id=f"{a.name}-{b.name}", marks=pytest.mark.xdist_group(f"{b.name}-copies"))
            for a, b in pairs])


def pytest_xdist_auto_num_workers(config):
    return min(8, max(2, len(config.lake_selection.rses) if config.lake_selection else 2))


@pytest.fixture(scope="session")
def storage(tokens, lake, request) -> Storage:
    return Storage(tokens, timeout_s=request.config.getoption("--timeout"), rses=list(lake.inventory.rses.values()),
                   slots=rse_slots(request.config))


class RunArea:
    """The run's own directory on each RSE, `<prefix>/<run id>/`; remembers where this process made one."""

    def __init__(self, run_id: str, storage: Storage):
        self.run_id, self.storage, self.made = run_id, storage, {}

    def directory(self, rse, protocol: str, sub: str = "") -> str:
        return rse.url(protocol, f"{rse.prefix}/{self.run_id}/{sub}".rstrip("/"))

    def mkdir(self, rse, protocol: str, sub: str):
        done = self.storage.mkdir(self.directory(rse, protocol, sub))
        self.made[(rse.name, protocol)] = rse
        return done

    def remove_empty(self):
        """Several workers share a run directory: each tries, and the last one out finds it empty. Only
        where a mkdir worked, so an endpoint that never answered costs nothing here."""
        for (_, protocol), rse in self.made.items():
            for sub in ("tpc", ""):
                try:
                    self.storage.rmdir(self.directory(rse, protocol, sub))
                except ProbeFailure:
                    pass


@pytest.fixture(scope="session")
def run_area(request, storage):
    area = RunArea(request.config.lake_run_id, storage)
    yield area
    area.remove_empty()  # after the chains and copies that used it; what a killed run leaves, sweep removes


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
