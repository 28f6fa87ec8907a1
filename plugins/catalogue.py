"""The lake's Rucio for the checks that use it (suites/rucio, and the services suite's Rucio checks): the
`catalogue` fixture, one per process (lakeprobe/catalogue.py)."""

import os

import pytest

from lakeprobe.catalogue import Catalogue
from lakeprobe.state import RunState


@pytest.fixture(scope="session")
def catalogue(run: RunState, tokens) -> Catalogue:
    settings = run.inventory.rucio
    if settings is None or not (settings.url or settings.config):
        pytest.skip("the inventory names no Rucio server")
    if not settings.scope and not settings.account:
        pytest.skip("the inventory names no probe scope (rucio: scope:)")
    ca_file = os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE")
    return Catalogue(settings, tokens, run.options.timeout, ca_file)
