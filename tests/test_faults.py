"""Every `lab fault` kind is really there, seen with plain curl / xrdcp / xrdfs, and gone after `lab heal`."""

import os
import time
import uuid
from pathlib import Path

import pytest

from lakeprobe import jwts
from lakeprobe.checksums import of_bytes
from tests.helpers import Env, bearer_header, lakeprobe_cli, run, status_json

pytestmark = pytest.mark.lab

RSE = "XRD3"


@pytest.fixture
def xrd3(inventory):
    return inventory.rses[RSE]


@pytest.fixture
def env(lab_env, tokens):
    return Env({**lab_env, "BEARER_TOKEN": tokens.token("probe")})


def curl(env, *args, token=True, max_time=5):
    """curl with the token in a header file (`-H @file`), never in argv: a failing assert prints argv."""
    auth = ["-H", bearer_header(env["BEARER_TOKEN"], Path(env["X509_CERT_DIR"]).parent.parent)] if token else []
    return run(["curl", "-s", "--max-time", str(max_time), "--capath", env["X509_CERT_DIR"], *auth, *args], env)


def https(rse, path):
    return rse.url("davs", path).replace("davs://", "https://")


def put(env, rse, path, data: bytes, tmp_path, token=True):
    local = tmp_path / uuid.uuid4().hex
    local.write_bytes(data)
    return curl(env, "-o", "/dev/null", "-w", "%{http_code}", "-T", str(local), https(rse, path), token=token).stdout


def healthy(env, rse, tmp_path):
    return put(env, rse, f"/lakeprobe/faults/{uuid.uuid4().hex}", b"ok", tmp_path).startswith("2")


def test_down_refuses_connections(lab, lab_env, env, xrd3, tmp_path):
    assert lakeprobe_cli("lab", "fault", RSE, "down", env=lab_env).returncode == 0
    try:
        assert curl(env, https(xrd3, "/")).returncode == 7  # curl: could not connect
        assert next(c for c in status_json(lab_env)["components"] if c["name"] == RSE)["up"] is False
    finally:
        assert lakeprobe_cli("lab", "heal", RSE, env=lab_env).returncode == 0
    assert healthy(env, xrd3, tmp_path)


def test_hang_accepts_connections_but_never_answers(faulty, env, xrd3, tmp_path):
    faulty(RSE, "hang")
    started = time.monotonic()
    assert curl(env, https(xrd3, "/"), max_time=3).returncode == 28  # curl: operation timed out
    assert time.monotonic() - started >= 2.9


def test_readonly_refuses_every_write(faulty, env, xrd3, tmp_path):
    faulty(RSE, "readonly")
    local = tmp_path / "f"
    local.write_bytes(b"x")
    xrdcp = run(["xrdcp", "-f", str(local), xrd3.url("root", "/lakeprobe/faults/ro.dat")], env)
    assert xrdcp.returncode != 0 and "read/only" in xrdcp.stderr


def test_full_fails_writes_for_lack_of_space(faulty, env, xrd3, tmp_path):
    faulty(RSE, "full")
    local = tmp_path / "f"
    local.write_bytes(os.urandom(200_000))
    run(["xrdfs", xrd3.protocols["root"], "mkdir", "-p", "/lakeprobe/faults"], env)
    xrdcp = run(["xrdcp", "-f", str(local), xrd3.url("root", "/lakeprobe/faults/full.dat")], env)
    assert xrdcp.returncode != 0 and "no space left on device" in xrdcp.stderr


def test_slow_throttles_throughput(faulty, env, xrd3, tmp_path):
    path = f"/lakeprobe/faults/{uuid.uuid4().hex}"
    assert put(env, xrd3, path, os.urandom(256 * 1024), tmp_path).startswith("2")
    faulty(RSE, "slow")
    started = time.monotonic()
    assert curl(env, "-o", "/dev/null", https(xrd3, path), max_time=30).returncode == 0
    assert time.monotonic() - started > 2.5  # 256 KiB at the fault's 64 KiB/s takes about 4 s


def test_tpc_off_refuses_both_kinds_of_third_party_copy(faulty, env, inventory, xrd3, tmp_path):
    source = inventory.rses["XRD1"]
    path = f"/lakeprobe/faults/{uuid.uuid4().hex}"
    assert put(env, source, path, b"tpc source", tmp_path).startswith("2")
    faulty(RSE, "tpc-off")
    copy = curl(
        env,
        "-X",
        "COPY",
        "-H",
        f"Source: {https(source, path)}",
        "-H",
        "Credential: none",
        https(xrd3, path + ".copy"),
        "-w",
        "%{http_code}",
    )
    assert not copy.stdout.endswith("201")
    tpc = run(["xrdcp", "--tpc", "only", source.url("root", path), xrd3.url("root", path + ".tpc")], env)
    assert tpc.returncode != 0 and "tpc not supported" in tpc.stderr


def test_corrupt_stores_other_bytes_than_were_sent(faulty, env, xrd3, tmp_path):
    faulty(RSE, "corrupt")
    data, path = os.urandom(100_000), f"/lakeprobe/faults/{uuid.uuid4().hex}"
    assert put(env, xrd3, path, data, tmp_path).startswith("2")
    stored = run(["xrdfs", xrd3.protocols["root"], "query", "checksum", path], env).stdout.split()[-1]
    assert stored != of_bytes(data).value


def test_no_auth_accepts_anonymous_writes(faulty, env, xrd3, tmp_path):
    assert put(env, xrd3, f"/lakeprobe/faults/{uuid.uuid4().hex}", b"anon", tmp_path, token=False) == "403"
    faulty(RSE, "no-auth")
    assert put(env, xrd3, f"/lakeprobe/faults/{uuid.uuid4().hex}", b"anon", tmp_path, token=False).startswith("2")


def get(env, rse, path, token: str) -> str:
    """The HTTP status of a GET of `path` with `token`."""
    return curl(Env({**env, "BEARER_TOKEN": token}), "-o", "/dev/null", "-w", "%{http_code}", https(rse, path)).stdout


@pytest.mark.parametrize("kind, scopeless_writes", [("passthrough-read", False), ("passthrough-all", True)])
def test_passthrough_lets_a_modify_only_token_read_and_with_all_a_scopeless_one_write(
    faulty, env, tokens, xrd3, tmp_path, kind, scopeless_writes
):
    path = f"/lakeprobe/faults/{uuid.uuid4().hex}"
    assert put(env, xrd3, path, b"data", tmp_path).startswith("2")
    modify_only, scopeless = tokens.token("probe-modify-only"), tokens.token("probe-no-scope")
    assert get(env, xrd3, path, modify_only) == "403"
    faulty(RSE, kind)
    assert get(env, xrd3, path, modify_only) == "200"
    written = put(Env({**env, "BEARER_TOKEN": scopeless}), xrd3, path + "-new", b"x", tmp_path)
    assert written.startswith("2") if scopeless_writes else written == "403"


def test_an_es256_token_of_the_issuer_reads_where_its_scope_allows(env, tokens, xrd3, tmp_path):
    """The issuer signs the `probe-es256` client's tokens with its EC key; the storage trusts that key too."""
    path = f"/lakeprobe/faults/{uuid.uuid4().hex}"
    assert put(env, xrd3, path, b"data", tmp_path).startswith("2")
    token = tokens.token("probe-es256")
    assert jwts.header(token)["alg"] == "ES256"
    assert get(env, xrd3, path, token) == "200"
    assert put(Env({**env, "BEARER_TOKEN": token}), xrd3, path + "-new", b"x", tmp_path) == "403"


def test_expired_cert_fails_verification(faulty, env, xrd3):
    faulty(RSE, "expired-cert")
    result = curl(env, https(xrd3, "/"))
    assert result.returncode == 60  # curl: peer certificate cannot be authenticated


@pytest.mark.parametrize(
    "kind",
    ["down", "hang", "readonly", "full", "slow", "tpc-off", "corrupt", "no-auth", "passthrough-all", "expired-cert"],
)
def test_heal_restores_a_working_rse(lab, lab_env, env, xrd3, kind, tmp_path):
    assert lakeprobe_cli("lab", "fault", RSE, kind, env=lab_env).returncode == 0
    assert lakeprobe_cli("lab", "heal", RSE, env=lab_env).returncode == 0
    assert healthy(env, xrd3, tmp_path)
    data, path = os.urandom(10_000), f"/lakeprobe/faults/{uuid.uuid4().hex}"
    assert put(env, xrd3, path, data, tmp_path).startswith("2")
    assert (
        run(["xrdfs", xrd3.protocols["root"], "query", "checksum", path], env).stdout.split()[-1]
        == of_bytes(data).value
    )
    assert put(env, xrd3, f"/lakeprobe/faults/{uuid.uuid4().hex}", b"anon", tmp_path, token=False) == "403"
