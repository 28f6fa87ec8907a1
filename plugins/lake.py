"""lakeprobe's pytest plugin: the options saying what to probe, and the run's start, in this order:

1. the options and the inventory are checked (one line and exit code 4 for a mistake, before anything runs);
2. the RSEs, protocols and copies are selected;
3. the inventory's downtime feed (GOCDB), if any, is read once: its ongoing outages put their RSEs in downtime;
4. the run gets its id, its kind (a round, or an ad-hoc run of some checks) and a directory its processes share;
5. one token of every kind is fetched (an issuer that refuses what the inventory asks stops the run here);
6. every endpoint is checked for reachability at once (the preflight), with the terminal told what it waits on.

The result is one RunState in config.stash, handed whole to pytest-xdist workers. The process that owns the
terminal also registers the RoundPlugin (plugins/round.py), which collects records and ends the run.
"""

import os
from dataclasses import replace

import pytest

from lakeprobe import downtime_feed, lock, paths, pinning, preflight, trust, waiting
from lakeprobe.inventory import InventoryError, lab_inventory, load_rucio, load_yaml
from lakeprobe.options import OptionError, RunOptions, parse
from lakeprobe.protocols import registry
from lakeprobe.records import run_id_for
from lakeprobe.state import RunState, Selection
from lakeprobe.tokens import IssuerConfigError, TokenProvider
from plugins import progress
from plugins.run import STATE, TOKENS, probing, run_state, runs_suite

FEED_LINES = pytest.StashKey[list[str]]()  # what the downtime feed's reading says, at the end of the run
_WORKER_KEY = "lakeprobe_state"


def pytest_addoption(parser):
    group = parser.getgroup("lakeprobe", "lakeprobe: what to probe")
    group.addoption("--rse", action="append", default=[], metavar="NAME", help="probe this RSE (repeatable)")
    group.addoption("--rse-expression", metavar="EXPR", help="probe the RSEs matching this Rucio RSE expression")
    group.addoption(
        "--protocol",
        action="append",
        default=[],
        metavar="SCHEME",
        help=f"probe only this protocol (repeatable; default: all the RSE offers of {', '.join(registry.schemes())})",
    )
    group.addoption("--inventory", metavar="PATH", help="YAML inventory of the lake (schema in README.md)")
    group.addoption(
        "--tpc-peer",
        action="append",
        default=[],
        metavar="NAME",
        help="with --rse: copy only between it and these peers (repeatable; default: every other RSE)",
    )
    group.addoption(
        "--timeout",
        metavar="SECONDS",
        help="deadline of every network operation, unless the RSE sets its own (default 60)",
    )
    group.addoption(
        "--rse-concurrency",
        metavar="N",
        help="operations at once on one RSE, over all workers, unless the RSE sets its own (default 4)",
    )
    group.addoption("--file-size", metavar="BYTES", help="size of the probe file: 1048576, 64k, 1M (default 1M)")
    group.addoption(
        "--retries",
        metavar="N",
        help="retries of a transient failure (refused connection, unexplained error), with backoff (default 2)",
    )
    group.addoption(
        "--slow-floor",
        metavar="BYTES_PER_S",
        help="transfers slower than this are recorded as warn (default 262144: 256 KiB/s)",
    )
    group.addoption(
        "--per-address",
        action="store_true",
        help="run the storage chain once per address family (IPv4, IPv6) of each endpoint's host, "
        "each forced to that family (default: once, at the address the resolver picks)",
    )
    group.addoption(
        "--results-dir", metavar="DIR", help="where run records go (default results/, or LAKEPROBE_RESULTS_DIR)"
    )
    group = parser.getgroup("lakeprobe-rounds", "lakeprobe: rounds spread over machines, and copies in turn")
    group.addoption(
        "--shard",
        metavar="K/N",
        help="run shard K of N of the round (default: GitLab's CI_NODE_INDEX/"
        "CI_NODE_TOTAL, or Kubernetes' JOB_COMPLETION_INDEX with LAKEPROBE_SHARDS)",
    )
    group.addoption(
        "--run-id",
        metavar="ID",
        help="one id for every shard of a round: the pipeline's id or the "
        "Job's name (default: LAKEPROBE_RUN_ID, CI_PIPELINE_ID, GITHUB_RUN_ID)",
    )
    group.addoption(
        "--tpc-pairs",
        metavar="all|rotate",
        help="copy between every ordered pair each round (all, the "
        "default), or with each RSE's peers in turn, every pair within 24 rounds (rotate)",
    )
    group.addoption(
        "--rotate-peers",
        metavar="K",
        help="with --tpc-pairs rotate: peers each RSE copies to and from every round (default 2)",
    )


def _options(config) -> RunOptions:
    opt = config.getoption
    return parse(
        {
            name.removeprefix("--").replace("-", "_"): opt(name)
            for name in (
                "--rse",
                "--rse-expression",
                "--protocol",
                "--inventory",
                "--tpc-peer",
                "--timeout",
                "--rse-concurrency",
                "--file-size",
                "--retries",
                "--slow-floor",
                "--results-dir",
                "--shard",
                "--run-id",
                "--tpc-pairs",
                "--rotate-peers",
                "--per-address",
            )
        }
        | {
            "results_dir": opt("--results-dir") or str(paths.results_dir()),
            "shard": opt("--shard") or _shard_from_environment(),
            "run_id": opt("--run-id") or _first_set("LAKEPROBE_RUN_ID", "CI_PIPELINE_ID", "GITHUB_RUN_ID"),
        }
    )


def _first_set(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _shard_from_environment() -> str | None:
    """GitLab's `parallel:` (1-based index) or a Kubernetes Indexed Job (0-based, total given by us)."""
    if os.environ.get("CI_NODE_INDEX") and os.environ.get("CI_NODE_TOTAL"):
        return f"{os.environ['CI_NODE_INDEX']}/{os.environ['CI_NODE_TOTAL']}"
    index, total = os.environ.get("JOB_COMPLETION_INDEX", ""), os.environ.get("LAKEPROBE_SHARDS", "")
    if index.isdigit() and total:
        return f"{int(index) + 1}/{total}"
    return None


def _selection(options: RunOptions, run_id: str = "") -> Selection:
    path = options.inventory or (None if options.rse_expression else lab_inventory())
    inventory = load_yaml(path) if path else None
    if options.rse_expression:
        inventory = load_rucio(options.rse_expression, inventory)
    assert inventory is not None
    return Selection.of(inventory, options, run_id)


def run_kind(config, options: RunOptions) -> str:
    """A round runs every check of the suites given; narrowing it in any way makes an ad-hoc run."""
    narrowed = (
        options.rse
        or options.tpc_peer
        or options.protocol
        or config.option.keyword
        or config.option.markexpr
        or getattr(config.option, "deselect", None)
        or getattr(config.option, "lf", False)
        or any("::" in str(a) for a in config.args)
    )
    return "adhoc" if narrowed else "round"


def start(config) -> tuple[RunState, TokenProvider]:
    try:
        options = _options(config)
        if options.per_address:
            pinning.check()  # built and tried now, once, or the run does not start
        run_id = run_id_for(options.run_id)
        selection = _selection(options, run_id)
        kind = run_kind(config, options)
        # What the run's end needs is checked now too: a mistake there must not cost a lock, tokens and a
        # preflight first (plugins/round.py makes them again from the same options).
        from plugins import chat, sinks  # registered plugins in their own right: imported once pytest has

        sinks.specs(config, selection.inventory)
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
        state = RunState.loads(config.workerinput[_WORKER_KEY])
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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    state = run_state(node.config)
    if state is not None:
        node.workerinput[_WORKER_KEY] = state.dumps()


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
        options = _options(config)
        if options.rse_expression:
            rses = 8
        else:
            selection = _selection(options)
            networked = [p for r in selection.rses for p in selection.protocols_of(r) if registry.get(p).on_network]
            rses = len(selection.rses) if networked else 0
    except (OptionError, InventoryError):
        return 1
    if rses == 0:
        return cores
    only_rucio = runs_suite(config, "rucio") and not any(runs_suite(config, s) for s in ("site", "services"))
    most = 2 * cores if only_rucio else 24
    return max(1, min(most, 2 * rses))


@pytest.fixture(scope="session")
def lake(request) -> Selection:
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
