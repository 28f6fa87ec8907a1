"""pytest-xdist's workers: how many `-n auto` starts, and the run's state handed to each (plugins/lake.py
reads it back in the worker, which never starts a run of its own)."""

import os

import pytest

from lakeprobe.inventory import InventoryError
from lakeprobe.options import OptionError
from lakeprobe.protocols import registry
from plugins.options import run_options, selection_of
from plugins.run import probing, run_state, runs_suite

WORKER_STATE = "lakeprobe_state"  # the key of the RunState in a worker's workerinput


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    state = run_state(node.config)
    if state is not None:
        node.workerinput[WORKER_STATE] = state.dumps()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """-n auto: checks mostly wait on storage, so two workers per RSE reached over the network (at most 24);
    the per-RSE slots keep each site's load within its cap. The Rucio suite alone waits little and its clients
    are costly to start in every worker: two workers per core. A lake of local directories (file://) waits on
    nothing: one worker per core. Runs before the run starts: a mistake is reported by the start."""
    if not probing(config):
        return None
    cores = os.cpu_count() or 1
    try:
        options = run_options(config)
        if options.rse_expression:
            rses = 8
        else:
            selection = selection_of(options)
            networked = [p for r in selection.rses for p in selection.protocols_of(r) if registry.get(p).on_network]
            rses = len(selection.rses) if networked else 0
    except (OptionError, InventoryError):
        return 1
    if rses == 0:
        return cores
    only_rucio = runs_suite(config, "rucio") and not any(runs_suite(config, s) for s in ("site", "services"))
    most = 2 * cores if only_rucio else 24
    return max(1, min(most, 2 * rses))
