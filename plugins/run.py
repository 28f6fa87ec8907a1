"""What every plugin of a run shares: the run's state and tokens in `config.stash`, and what the run's
targets are. It imports no other plugin, so that none of them imports another in a circle."""

from pathlib import Path

import pytest

from lakeprobe.state import RunState
from lakeprobe.tokens import TokenProvider

STATE = pytest.StashKey[RunState]()
TOKENS = pytest.StashKey[TokenProvider]()


def run_state(config) -> RunState | None:
    return config.stash.get(STATE, None)


def probing(config) -> bool:
    """Only runs of the suites probe a lake; the framework's own tests (tests/) do not."""
    return runs_suite(config, "")  # suites/"" is suites/ itself: any suite


def runs_suite(config, name: str) -> bool:
    """Whether the run's targets take in suites/<name> (all the suites, the suite, or a module of it)."""
    suites = (config.rootpath / "suites").resolve()
    targets = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    return any(t == suites or t == suites / name or suites / name in t.parents for t in targets)
