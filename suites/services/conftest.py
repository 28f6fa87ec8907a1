"""Fixtures of the services suite: the lake's core services, each skipped when the inventory names none."""

import os

import pytest
import requests

from lakeprobe.classify import classify
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ProbeFailure


@pytest.fixture
def issuer(selection, record) -> str:
    record.rse, record.protocol = "issuer", "https"
    if selection.inventory.issuer is None:
        pytest.skip("the inventory names no token issuer")
    return selection.inventory.issuer.url


@pytest.fixture
def get_json(run):
    """GET a JSON document under the run's deadline; anything but a JSON object is a failure of the service."""
    deadline = run.options.timeout

    def get_json(url: str) -> dict:
        def get():
            return requests.get(url, timeout=deadline, verify=os.environ.get("SSL_CERT_FILE") or True)

        try:
            reply = call_with_deadline(get, deadline, f"GET {url}")
            reply.raise_for_status()
            body = reply.json()
        except requests.RequestException as e:
            raise ProbeFailure(classify(str(e)), f"GET {url}: {type(e).__name__}: {str(e)[:200]}") from None
        except ValueError:
            raise ProbeFailure("protocol_error", f"GET {url}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise ProbeFailure("protocol_error", f"GET {url}: the answer is not a JSON object")
        return body

    return get_json
