"""Every storage call carries the token it was given, even when calls with different tokens run at once in
one process: root:// in-process connections log in per token (lakeprobe/protocols/root.py), others run as
processes of their own, and no token is ever set in the process environment."""

import concurrent.futures
import os
import uuid

import pytest

from lakeprobe.protocols import registry
from lakeprobe.storage import Storage

pytestmark = pytest.mark.lab


def test_tokens_of_different_holders_never_mix_in_one_process(inventory, tokens, tmp_path):
    rse = inventory.rses["XRD1"]
    root = registry.get("root")
    root.prepare_process()
    storage = Storage(tokens, 20, inventory.rses.values())
    local = tmp_path / "f"
    local.write_bytes(b"x" * 1000)
    directory = rse.url("root", f"/lakeprobe/tokens-{uuid.uuid4().hex[:8]}")
    storage.mkdir(directory)
    read_only = tokens.token("probe-read")

    def with_probe(n):
        storage.put(str(local), f"{directory}/probe-{n}.dat")  # in-process, the probe's token
        return True

    def with_read_only(n):
        return bool(root.write_as(f"{directory}/read-{n}.dat", read_only, b"x", 20))  # must be refused

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        probe = list(pool.map(with_probe, range(12)))
        refused = list(pool.map(with_read_only, range(12)))
        probe += list(pool.map(with_probe, range(12, 24)))
    assert probe == [True] * 24 and refused == [False] * 12
    assert sorted(storage.listdir(directory)) == sorted(f"probe-{n}.dat" for n in range(24))
    assert "BEARER_TOKEN" not in os.environ
    storage.remove_tree(directory)
