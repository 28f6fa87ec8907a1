"""The lake's Rucio as a service: the server answers (/ping gives its version), and the probe account's
rules finish."""

import datetime

import pytest

from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeFailure

NAMED = 3  # rules named in a message


@pytest.fixture
def rucio(selection, record) -> str:
    url = selection.inventory.rucio.url if selection.inventory.rucio else None
    if not url:
        pytest.skip("the inventory names no Rucio server")
    record.rse, record.protocol = "rucio", url.split("://")[0]
    return url.rstrip("/")


def test_rucio_ping(rucio, get_json):
    if not get_json(f"{rucio}/ping").get("version"):
        raise ProbeFailure("protocol_error", "Rucio /ping names no version")


def test_rucio_stuck_rules(catalogue, record, rucio):
    """No rule of the probe account is STUCK, or still REPLICATING past the threshold (rucio: stuck_after_s):
    rules that never finish are a lake's slow leak."""
    client = catalogue.client()
    account = catalogue.account
    rules = catalogue.call("list rules", lambda: list(client.list_replication_rules({"account": account})))
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # Rucio's times are naive UTC
    limit = datetime.timedelta(seconds=catalogue.settings.stuck_after_s)
    stuck = [
        r for r in rules if r["state"] == "STUCK" or (r["state"] == "REPLICATING" and now - r["created_at"] > limit)
    ]
    if stuck:
        named = ", ".join(f"{r['id']} ({r['state']}, {r['rse_expression']})" for r in stuck[:NAMED])
        more = f" and {len(stuck) - NAMED} more" if len(stuck) > NAMED else ""
        raise ProbeFailure(E.STUCK, f"{len(stuck)} rules of account {account} stuck: {named}{more}")
    record.message = f"{len(rules)} rules of account {account}, none stuck"
