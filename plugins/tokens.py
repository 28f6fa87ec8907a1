"""The `tokens` fixture: one TokenProvider per process. The xdist controller fetches one token per kind
(client and audience) before the workers start and hands them over, so a round asks the issuer once per kind."""
import pytest

from lakeprobe.errors import ProbeError
from lakeprobe.tokens import TokenProvider


def _provider(config) -> TokenProvider | None:
    selection = getattr(config, "lake_selection", None)
    if selection is None:
        return None
    return TokenProvider.for_lake(selection.inventory)


def pytest_configure(config):
    config.lake_tokens = provider = _provider(config)
    if provider is None:
        return
    if hasattr(config, "workerinput"):
        provider.seed(config.workerinput.get("lakeprobe_tokens", {}))
        return
    for client, audience in provider.token_kinds():
        try:
            provider.token(client, audience)
        except ProbeError:
            pass  # the checks that need it report the issuer's failure themselves


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    provider = node.config.lake_tokens
    if provider is not None:
        node.workerinput["lakeprobe_tokens"] = provider.export()


@pytest.fixture(scope="session")
def tokens(request) -> TokenProvider:
    if request.config.lake_tokens is None:
        pytest.skip("no lake selected")
    return request.config.lake_tokens
