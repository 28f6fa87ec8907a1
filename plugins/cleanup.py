"""A round leaves nothing on the storage: at the end of the run, however it ended (failures, -k, --rse,
Ctrl-C, any number of workers), the process that started it removes the run's directories,
`<prefix>/<run id>/`, `<prefix>/scoped/<run id>/` and `<prefix>/scoped-beside/<run id>/`, from every
endpoint where one was made (each process notes that in the run's shared directory), and the owners'
files in the embargoed areas. An endpoint that broke during the round is left alone: the sweeper
(`lakeprobe sweep`) removes what is left there later.
"""

import concurrent.futures

from lakeprobe.errors import NotProbed, ProbeError, ProbeFailure
from lakeprobe.protocols.registry import whole_cluster_first
from lakeprobe.state import RUN_AREAS, RunState
from lakeprobe.storage import Storage
from lakeprobe.tokens import TokenProvider
from plugins.run import TOKENS

DEADLINE_S = 20.0  # per endpoint: cleaning up must not hold the end of the run for long


def run_directories(state: RunState, rse, protocol: str) -> list[str]:
    return [rse.url(protocol, state.area(rse, below)) for below in RUN_AREAS]


def remove_run_directories(state: RunState, config) -> str:
    tokens: TokenProvider = config.stash[TOKENS]
    made = sorted(p.name for p in state.made_dir.glob("*")) if state.made_dir.is_dir() else []
    broken = state.breaker.broken()
    todo: dict[str, list[str]] = {}  # RSE -> protocols, one after the other (one namespace)
    for name in made:
        rse, protocol = name.rsplit(".", 1)
        if (rse, protocol) not in broken:
            todo.setdefault(rse, []).append(protocol)
    if not todo:
        return ""
    timeout = min(DEADLINE_S, state.options.timeout)
    storage = Storage(tokens, timeout, state.inventory.rses.values(), breaker=state.breaker)
    owner = Storage(tokens, timeout, state.inventory.rses.values(), client="embargo-owner")

    def clean_rse(item: tuple[str, list[str]]) -> list[str]:
        # root:// first: over davs a cluster's manager lists one data server and cannot be asked to look up
        # anew; once root:// removed the run's directories, davs finds nothing left
        return [_clean(state, storage, owner, tokens, item[0], p) for p in whole_cluster_first(item[1])]

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(todo))) as pool:
        outcomes = list(pool.map(clean_rse, todo.items()))
    failed = [o for each in outcomes for o in each if o]
    if failed:
        return f"cleanup: {len(failed)} endpoints kept some of this run's files: " + "; ".join(failed[:3])
    return f"cleanup: this run's directories removed from {len(todo)} RSE{'s' if len(todo) != 1 else ''}"


def _clean(state: RunState, storage: Storage, owner: Storage, tokens: TokenProvider, name: str, protocol: str) -> str:
    rse = state.inventory.rses[name]
    try:
        for url in run_directories(state, rse, protocol):
            storage.remove_tree(url)
            if state.shard:  # the run's directory, once the last shard using it is done
                try:
                    storage.rmdir(url.rsplit("/", 1)[0])
                except ProbeFailure:
                    pass
        if rse.embargo and "embargo-owner" in (tokens.client_scopes or {}):
            embargo = rse.url(protocol, rse.embargo)
            for file in owner.listdir(embargo):
                if file.startswith(state.embargo_prefix):
                    owner.delete(f"{embargo}/{file}")
    except (ProbeFailure, ProbeError, NotProbed) as e:
        return f"{name} {protocol}: {e}"
    return ""
