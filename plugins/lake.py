"""Which lake, which RSEs, which protocols: the command-line options and the `lake` fixture.

With no --inventory and no --rse-expression, the embedded lab's inventory is used when the lab is up.
"""
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lakeprobe.inventory import (PROTOCOLS, Inventory, InventoryError, RSE, default_inventory, load_rucio,
                                 load_yaml)
from lakeprobe.slots import Slots
from lakeprobe.trust import trust_ca_dir


def pytest_addoption(parser):
    group = parser.getgroup("lakeprobe", "lakeprobe: what to probe")
    group.addoption("--rse", action="append", default=[], metavar="NAME", help="probe this RSE (repeatable)")
    group.addoption("--rse-expression", metavar="EXPR", help="probe the RSEs matching this Rucio RSE expression")
    group.addoption("--protocol", action="append", default=[], choices=PROTOCOLS,
                    help="probe only this protocol (repeatable; default: all the RSE offers)")
    group.addoption("--inventory", metavar="PATH", help="YAML inventory of the lake (schema in README.md)")
    group.addoption("--tpc-peer", action="append", default=[], metavar="NAME",
                    help="with --rse: copy only between it and these peers (repeatable; default: every other RSE)")
    group.addoption("--timeout", type=float, default=60.0, metavar="SECONDS",
                    help="deadline of every network operation, unless the RSE sets its own (default 60)")
    group.addoption("--rse-concurrency", type=int, default=4, metavar="N",
                    help="operations at once on one RSE, over all workers, unless the RSE sets its own (default 4)")
    group.addoption("--file-size", type=int, default=1024 * 1024, metavar="BYTES",
                    help="size of the probe file (default 1 MiB)")
    group.addoption("--retries", type=int, default=2, metavar="N",
                    help="retries of a transient failure (refused connection, unexplained error), with backoff")
    group.addoption("--slow-floor", type=float, default=256 * 1024, metavar="BYTES_PER_S",
                    help="transfers slower than this are recorded as warn (default 256 KiB/s)")


@dataclass
class Selection:
    inventory: Inventory
    rses: list[RSE]
    protocols: tuple[str, ...]
    tpc_peers: list[str] = field(default_factory=list)

    def protocols_of(self, rse: RSE) -> list[str]:
        return [p for p in self.protocols if p in rse.protocols]

    def tpc_pairs(self) -> list[tuple[RSE, RSE]]:
        """Every ordered pair among the selected RSEs; with --rse, the chosen ones and their peers both ways."""
        if not self.tpc_peers and len(self.rses) == len(self.inventory.rses):
            return [(a, b) for a in self.rses for b in self.rses if a is not b]
        chosen = {r.name for r in self.rses}
        peers = self.tpc_peers or [n for n in self.inventory.rses if n not in chosen]
        pairs = []
        for rse in self.rses:
            for name in peers:
                if name != rse.name:
                    peer = self.inventory.rses[name]
                    pairs += [(rse, peer), (peer, rse)]
        return list(dict.fromkeys(pairs))


def load_selection(config) -> Selection:
    opt = config.getoption
    inventory_path = opt("--inventory") or (None if opt("--rse-expression") else default_inventory())
    inventory = load_yaml(Path(inventory_path)) if inventory_path else None
    if opt("--rse-expression"):
        inventory = load_rucio(opt("--rse-expression"), inventory)
    rses = inventory.select(opt("--rse"))
    inventory.select(opt("--tpc-peer"))  # unknown peers are an error too
    trust_ca_dir(inventory.ca_dir)
    return Selection(inventory, rses, tuple(opt("--protocol")) or PROTOCOLS, opt("--tpc-peer"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.lake_selection = None
    if not _probing(config):
        return
    # A chain's steps depend on each other: the tests of one RSE go to one xdist worker. Workers re-parse
    # the command line, so they are told through workerinput (pytest_configure_node).
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    if getattr(config, "workerinput", {}).get("lakeprobe_loadgroup"):
        config.option.loadgroup = True
    try:
        config.lake_selection = load_selection(config)
    except InventoryError as e:
        raise pytest.UsageError(str(e)) from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["lakeprobe_loadgroup"] = node.config.getvalue("dist") == "loadgroup"


def _probing(config) -> bool:
    """Only runs of the suites need a lake; the framework's own tests (tests/) do not."""
    suites = (config.rootpath / "suites").resolve()
    paths = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    return any(p == suites or suites in p.parents for p in paths)


def pytest_unconfigure(config):
    if config.lake_selection is not None and not hasattr(config, "workerinput"):
        shutil.rmtree(slots_dir(config), ignore_errors=True)


def slots_dir(config) -> Path:
    """Where the processes of one run share their per-RSE operation slots."""
    return Path(tempfile.gettempdir()) / f"lakeprobe-slots-{config.lake_run_id}"


def rse_slots(config) -> Slots:
    selection, default = config.lake_selection, config.getoption("--rse-concurrency")
    return Slots(slots_dir(config), {r.name: int(r.max_concurrent or default) for r in selection.inventory.rses.values()})


@pytest.fixture(scope="session")
def lake(request) -> Selection:
    if request.config.lake_selection is None:
        pytest.skip("no lake selected")
    return request.config.lake_selection
