"""With pytest-xdist (-n), which checks share a worker. A group runs whole in one worker, in order:

- one endpoint's checks of one module (`test_upload[XRD1-davs]` with the rest of XRD1 davs' chain): a chain's
  steps depend on each other; the embargo checks join the token checks' group, whose area they use;
- the copies from one source endpoint (ids `SOURCE>DESTINATION-protocol-mode`, grouped by SOURCE and
  protocol): each worker places one source file per endpoint it copies from;
- a module's unparametrized checks (the services suite).

Node ids are left as they are (xdist's own `loadgroup` appends `@group` to them, which pytest cannot take
back on its command line). The load on one RSE is capped by its operation slots (--rse-concurrency), not
by the grouping.
"""

from pathlib import PurePosixPath

import pytest
from xdist.scheduler import LoadScopeScheduling

from lakeprobe.ids import of_node
from plugins.run import probing

SHARED = {"test_embargo.py": "test_authz.py"}  # module -> the module whose groups it joins


def group_of(nodeid: str) -> str:
    path, check = of_node(nodeid)
    if check is None:
        return path
    module = PurePosixPath(path)
    if check.source:
        return f"{module.parent}/copies-from[{check.source}-{check.protocol}]"
    return f"{module.parent / SHARED.get(module.name, module.name)}[{check}]"


class CheckGroups(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    return CheckGroups(config, log) if probing(config) else None
