"""The command line saying what to probe: each option stated once, in OPTIONS, and handed to RunOptions
(lakeprobe/options.py) by its name (`--rse-concurrency` is `rse_concurrency`), which checks them all."""

import os
from typing import Any

from lakeprobe import paths
from lakeprobe.inventory import lab_inventory, load_yaml
from lakeprobe.options import RunOptions, parse
from lakeprobe.protocols import registry
from lakeprobe.rucio_inventory import load_rucio
from lakeprobe.state import Selection

OPTIONS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {  # (group, title): {option: its settings}
    ("lakeprobe", "lakeprobe: what to probe"): {
        "--rse": dict(action="append", default=[], metavar="NAME", help="probe this RSE (repeatable)"),
        "--rse-expression": dict(metavar="EXPR", help="probe the RSEs matching this Rucio RSE expression"),
        "--protocol": dict(
            action="append",
            default=[],
            metavar="SCHEME",
            help="probe only this protocol (repeatable; default: all the RSE offers of "
            f"{', '.join(registry.schemes())})",
        ),
        "--inventory": dict(metavar="PATH", help="YAML inventory of the lake (schema in README.md)"),
        "--tpc-peer": dict(
            action="append",
            default=[],
            metavar="NAME",
            help="with --rse: copy only between it and these peers (repeatable; default: every other RSE)",
        ),
        "--timeout": dict(
            metavar="SECONDS", help="deadline of every network operation, unless the RSE sets its own (default 60)"
        ),
        "--rse-concurrency": dict(
            metavar="N",
            help="operations at once on one RSE, over all workers, unless the RSE sets its own (default 4)",
        ),
        "--file-size": dict(metavar="BYTES", help="size of the probe file: 1048576, 64k, 1M (default 1M)"),
        "--retries": dict(
            metavar="N",
            help="retries of a transient failure (refused connection, unexplained error), with backoff (default 2)",
        ),
        "--slow-floor": dict(
            metavar="BYTES_PER_S", help="transfers slower than this are recorded as warn (default 262144: 256 KiB/s)"
        ),
        "--per-address": dict(
            action="store_true",
            help="run the storage chain once per address family (IPv4, IPv6) of each endpoint's host, "
            "each forced to that family (default: once, at the address the resolver picks)",
        ),
        "--results-dir": dict(metavar="DIR", help="where run records go (default results/, or LAKEPROBE_RESULTS_DIR)"),
    },
    ("lakeprobe-rounds", "lakeprobe: rounds spread over machines, and copies in turn"): {
        "--shard": dict(
            metavar="K/N",
            help="run shard K of N of the round (default: GitLab's CI_NODE_INDEX/"
            "CI_NODE_TOTAL, or Kubernetes' JOB_COMPLETION_INDEX with LAKEPROBE_SHARDS)",
        ),
        "--run-id": dict(
            metavar="ID",
            help="one id for every shard of a round: the pipeline's id or the "
            "Job's name (default: LAKEPROBE_RUN_ID, CI_PIPELINE_ID, GITHUB_RUN_ID)",
        ),
        "--tpc-pairs": dict(
            metavar="all|rotate",
            help="copy between every ordered pair each round (all, the "
            "default), or with each RSE's peers in turn, every pair within 24 rounds (rotate)",
        ),
        "--rotate-peers": dict(
            metavar="K", help="with --tpc-pairs rotate: peers each RSE copies to and from every round (default 2)"
        ),
    },
}


def pytest_addoption(parser):
    for (name, title), options in OPTIONS.items():
        group = parser.getgroup(name, title)
        for option, settings in options.items():
            group.addoption(option, **settings)


def run_options(config) -> RunOptions:
    """The options given, checked (OptionError); defaults that come from the environment filled in."""
    given = {option: config.getoption(option) for options in OPTIONS.values() for option in options}
    return parse(
        {option.removeprefix("--").replace("-", "_"): value for option, value in given.items()}
        | {
            "results_dir": given["--results-dir"] or str(paths.results_dir()),
            "shard": given["--shard"] or _shard_from_environment(),
            "run_id": given["--run-id"] or _first_set("LAKEPROBE_RUN_ID", "CI_PIPELINE_ID", "GITHUB_RUN_ID"),
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


def selection_of(options: RunOptions, run_id: str = "") -> Selection:
    """What the options select of the inventory they name (InventoryError)."""
    path = options.inventory or (None if options.rse_expression else lab_inventory())
    inventory = load_yaml(path) if path else None
    if options.rse_expression:
        inventory = load_rucio(options.rse_expression, options.timeout, inventory)
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
