"""The Rucio server answers: /ping gives its version."""

import pytest

from lakeprobe.errors import ProbeFailure


@pytest.fixture
def rucio(lake, record) -> str:
    url = lake.inventory.rucio.url if lake.inventory.rucio else None
    if not url:
        pytest.skip("the inventory names no Rucio server")
    record.rse, record.protocol = "rucio", url.split("://")[0]
    return url.rstrip("/")


def test_rucio_ping(rucio, get_json):
    if not get_json(f"{rucio}/ping").get("version"):
        raise ProbeFailure("protocol_error", "Rucio /ping names no version")
