"""lakeprobe's pytest plugin: the run's start, in this order:

1. the options and the inventory are checked (one line and exit code 4 for a mistake, before anything runs);
2. the RSEs, protocols and copies are selected;
3. the inventory's downtime feed (GOCDB), if any, is read once: its ongoing outages put their RSEs in downtime;
4. the run gets its id, its kind (a round, or an ad-hoc run of some checks) and a directory its processes share;
5. one token of every kind is fetched (an issuer that refuses what the inventory asks stops the run here);
6. every endpoint is checked for reachability at once (the preflight), with the terminal told what it waits on.

The result is one RunState in config.stash, handed whole to pytest-xdist workers. The process that owns the
terminal also registers the RoundPlugin (plugins/round.py), which collects records and ends the run.
"""

from dataclasses import replace

import pytest

from lakeprobe import downtime_feed, lock, pinning, preflight, trust, waiting
from lakeprobe.inventory import InventoryError
from lakeprobe.options import OptionError
from lakeprobe.protocols import registry
from lakeprobe.records import run_id_for
from lakeprobe.state import RunState, Selection
from lakeprobe.storage import Storage
from lakeprobe.tokens import IssuerConfigError, TokenProvider
from plugins import progress
from plugins.options import run_kind, run_options, selection_of
from plugins.run import STATE, TOKENS, probing, run_state
from plugins.workers import WORKER_STATE

FEED_LINES = pytest.StashKey[list[str]]()  # what the downtime feed's reading says, at the end of the run


def start(config) -> tuple[RunState, TokenProvider]:
    try:
        options = run_options(config)
        if options.per_address:
            pinning.check()  # built and tried now, once, or the run does not start
        run_id = run_id_for(options.run_id)
        selection = selection_of(options, run_id)
        kind = run_kind(config, options)
        # What the run's end needs is checked now too: a mistake there must not cost a lock, tokens and a
        # preflight first (plugins/round.py makes them again from the same options).
        from plugins import chat, prometheus, sinks  # registered plugins in their own right: imported once pytest has

        sinks.specs(config, selection.inventory)
        prometheus.Outputs.from_options(config)
        chat.Notifier.options(config)
        shard = f"{options.shard[0]}/{options.shard[1]}" if options.shard else ""
        if kind == "round":
            lock.hold(selection.inventory.lake, shard, options.results_dir)
    except (OptionError, InventoryError, lock.RoundRunning, pinning.PinningUnavailable) as e:
        raise pytest.UsageError(str(e)) from None
    trust.trust_ca_dir(selection.inventory.ca_dir)
    selection, feed = _with_downtime_feed(selection)
    state = RunState(run_id, kind, options, selection, RunState.new_shared_dir(run_id, options.shard), options.shard)
    if feed is not None:
        feed.save(state.shared_dir)  # for the services suite's downtime_feed check, in whichever process
        config.stash[FEED_LINES] = [feed.line()]
    waiting.use(state.board_dir)
    tokens = TokenProvider.for_lake(selection.inventory)
    try:
        tokens.prefetch()
    except IssuerConfigError as e:
        state.remove_shared_dir()
        raise pytest.UsageError(f"inventory {selection.inventory.source}: {e}") from None
    state.tokens = tokens.export()
    for protocol in registry.schemes():
        registry.get(protocol).prepare_process()
    with progress.Watcher(config, state, "checking endpoints"):
        state.preflight = preflight.check_all(selection.endpoints(), tokens, options.timeout, state.breaker)
    return state, tokens


def _with_downtime_feed(selection: Selection) -> tuple[Selection, downtime_feed.Reading | None]:
    """The selection with the ongoing outages of the inventory's downtime feed applied to its RSEs, before the
    RunState is built from it: xdist workers get the RSEs as they are here, and never read the feed."""
    if selection.inventory.downtime_feed is None:
        return selection, None
    inventory, reading = downtime_feed.read(selection.inventory)
    return replace(selection, inventory=inventory, rses=[inventory.rses[r.name] for r in selection.rses]), reading


@pytest.hookimpl(tryfirst=True)  # the other plugins' hooks read the state
def pytest_configure(config):
    if not probing(config):
        return
    if hasattr(config, "workerinput"):
        state = RunState.loads(config.workerinput[WORKER_STATE])
        trust.trust_ca_dir(state.inventory.ca_dir)
        waiting.use(state.board_dir)
        tokens = TokenProvider.for_lake(state.inventory)
        tokens.seed(state.tokens)
        for protocol in registry.schemes():
            registry.get(protocol).prepare_process()
    else:
        state, tokens = start(config)
        from plugins.round import RoundPlugin

        round_plugin = RoundPlugin(config, state)
        round_plugin.lines += config.stash.get(FEED_LINES, [])
        config.pluginmanager.register(round_plugin, "lakeprobe-round")
    config.stash[STATE], config.stash[TOKENS] = state, tokens


@pytest.fixture(scope="session")
def selection(request) -> Selection:
    """What the run probes: its inventory, RSEs, protocols and copies."""
    state = run_state(request.config)
    if state is None:
        pytest.skip("no lake selected")
    return state.selection


@pytest.fixture(scope="session")
def run(request) -> RunState:
    state = run_state(request.config)
    if state is None:
        pytest.skip("no lake selected")
    return state


@pytest.fixture(scope="session")
def tokens(request) -> TokenProvider:
    found = request.config.stash.get(TOKENS, None)
    if found is None:
        pytest.skip("no lake selected")
    return found


@pytest.fixture(scope="session")
def storage(run: RunState, tokens) -> Storage:
    """The storage layer over every RSE of the inventory, with the probe's token (the site suite's copies and
    chains, the credentials suite's macaroon copies)."""
    return Storage(tokens, run.options.timeout, run.inventory.rses.values(), run.slots, run.breaker)
