"""`--shard K/N`: one round spread over N machines (GitLab `parallel:`, a GitHub matrix, a Kubernetes Indexed
Job), each running the checks of its shard, all under one run id.

Every shard collects the same checks (same inventory and options) and keeps those of its own groups, so the
shards agree without talking to each other. Groups are plugins/scheduling.py's (an RSE x protocol chain, an
endpoint's token checks, the copies from one source endpoint): each lies wholly in one shard. Groups are
dealt out by their cost, largest first, each to the shard with the least so far, with costs measured on the
lab (the mean seconds of each kind of check in a healthy 20-RSE round with 24 workers).
"""

from collections import defaultdict
from pathlib import PurePosixPath

import pytest

from lakeprobe.ids import of_node
from plugins.run import run_state
from plugins.scheduling import group_of

# (kind of check, protocol) -> mean seconds; root:// token checks wait for XRootD 5.5's late accepts.
COSTS = {
    ("copy", "root"): 1.1,
    ("copy", "davs"): 0.4,
    ("token", "root"): 3.0,
    ("token", "davs"): 0.1,
    ("chain", "root"): 0.02,
    ("chain", "davs"): 0.02,
}
KINDS = {"test_tpc": "copy", "test_authz": "token", "test_embargo": "token", "test_storage": "chain"}
OTHER_S = 0.1


def cost(nodeid: str) -> float:
    path, check = of_node(nodeid)
    return COSTS.get((KINDS.get(PurePosixPath(path).stem, ""), check.protocol if check else ""), OTHER_S)


def assign(nodeids: list[str], shards: int) -> dict[str, int]:
    """group -> shard (1..shards), the same for every shard that sees the same node ids."""
    groups: dict[str, float] = defaultdict(float)
    for nodeid in nodeids:
        groups[group_of(nodeid)] += cost(nodeid)
    load = [0.0] * shards
    chosen = {}
    for group, seconds in sorted(groups.items(), key=lambda g: (-g[1], g[0])):
        shard = min(range(shards), key=lambda s: (load[s], s))
        load[shard] += seconds
        chosen[group] = shard + 1
    return chosen


@pytest.hookimpl(trylast=True)  # after the suites ordered their checks
def pytest_collection_modifyitems(config, items):
    state = run_state(config)
    if state is None or state.shard is None:
        return
    mine, total = state.shard
    chosen = assign([item.nodeid for item in items], total)
    keep = [item for item in items if chosen[group_of(item.nodeid)] == mine]
    others = [item for item in items if chosen[group_of(item.nodeid)] != mine]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = keep
