"""Before the round, every selected endpoint is checked for reachability and TLS, all at once, in the
controller: a hanging endpoint costs the round one deadline, not one per check. Workers are handed the
results; the `connection` check records them and the checks behind it skip when it failed."""
import concurrent.futures

import pytest

from lakeprobe import connection
from lakeprobe.errors import ProbeError


def _endpoints(selection):
    return [(rse, proto) for rse in selection.rses for proto in selection.protocols_of(rse)] + [
        (peer, proto) for a, b in selection.tpc_pairs() for peer in (a, b) for proto in selection.protocols_of(peer)]


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.lake_preflight = {}
    selection = getattr(config, "lake_selection", None)
    if selection is None:
        return
    if hasattr(config, "workerinput"):
        config.lake_preflight = config.workerinput.get("lakeprobe_preflight", {})
        return
    try:
        token = config.lake_tokens.token("probe")
    except ProbeError:
        token = None  # root:// logs in with the token: those endpoints are left to the checks, which blame the issuer
    timeout = config.getoption("--timeout")
    todo = {f"{rse.name}|{proto}": (rse, proto) for rse, proto in _endpoints(selection)
            if not rse.downtime and (token or proto == "davs")}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(32, len(todo)))) as pool:
        futures = {key: pool.submit(connection.check, rse.url(proto, "/"), proto, rse.timeout_s or timeout, token)
                   for key, (rse, proto) in todo.items()}
        config.lake_preflight = {key: f.result() for key, f in futures.items()}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["lakeprobe_preflight"] = node.config.lake_preflight


@pytest.fixture(scope="session")
def preflight(request) -> dict:
    return request.config.lake_preflight
