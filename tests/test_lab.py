"""The embedded lab, exercised with plain tools (gfal2, xrdcp, curl, rucio-clients): every component answers,
tokens are enforced on both protocols, third-party copy works with tokens on both ends."""

import json
import os
import socket
import sys
import uuid

import gfal2
import psycopg
import pytest
import requests
import stomp

from lab.clients import CLIENTS
from lakeprobe.checksums import of_bytes
from lakeprobe.jwts import claims
from lakeprobe.tokens import TokenProvider
from tests.helpers import REPO, Env, bearer_header, run, status_json

pytestmark = pytest.mark.lab


def test_status_json_lists_every_component_up(lab, lab_env):
    status = status_json(lab_env)
    names = {c["name"]: c for c in status["components"]}
    assert {"issuer", "rucio", "postgres", "influxdb", "broker", "XRD1", "XRD2", "XRD3"} <= set(names)
    assert all(c["up"] for c in status["components"]), status["components"]
    assert [r["name"] for r in status["rses"]] == ["XRD1", "XRD2", "XRD3"]
    assert all(r["root"].startswith("root://") and r["davs"].startswith("davs://") for r in status["rses"])
    for key in ("issuer", "rucio", "influxdb", "broker", "run_dir"):
        assert status[key]


def test_issuer_serves_discovery_jwks_and_wlcg_tokens(lab, tokens):
    ca = str(lab.layout.pki / "ca.pem")
    discovery = requests.get(f"{lab.layout.issuer_url}/.well-known/openid-configuration", verify=ca, timeout=10).json()
    assert discovery["issuer"] == lab.layout.issuer_url
    assert "client_credentials" in discovery["grant_types_supported"]
    jwks = requests.get(discovery["jwks_uri"], verify=ca, timeout=10).json()
    token_claims = claims(tokens.token("probe-read"))
    assert token_claims["wlcg.ver"] == "1.0" and token_claims["aud"] == "https://lakeprobe.lab"
    assert token_claims["scope"] == "storage.read:/lakeprobe" and token_claims["exp"] > token_claims["iat"]
    assert jwks["keys"][0]["kid"] == "lakeprobe-lab-1"


def test_rucio_postgres_influxdb_and_broker_answer(lab):
    assert requests.get(f"{lab.layout.rucio_url}/ping", timeout=10).json()["version"]
    with psycopg.connect(f"host=127.0.0.1 port={lab.layout.port('postgres')} user=postgres dbname=rucio") as db:
        assert db.execute("SELECT count(*) FROM rses").fetchone()[0] >= 3
    assert requests.get(f"{lab.layout.influxdb_url}/ping", timeout=10).status_code == 204
    with socket.create_connection(("127.0.0.1", lab.layout.port("stomp")), timeout=5):
        pass


def test_influxdb_accepts_and_returns_a_point(lab):
    url = lab.layout.influxdb_url
    marker = uuid.uuid4().hex[:8]
    assert (
        requests.post(
            f"{url}/write", params={"db": "lakeprobe"}, data=f"labtest,marker={marker} value=1", timeout=10
        ).status_code
        == 204
    )
    reply = requests.get(
        f"{url}/query", params={"db": "lakeprobe", "q": f"SELECT * FROM labtest WHERE marker='{marker}'"}, timeout=10
    ).json()
    assert reply["results"][0]["series"][0]["values"]


def test_broker_delivers_a_stomp_message(lab):
    from lab.broker import PASSWORD, USER

    received = []

    class Listener(stomp.ConnectionListener):
        def on_message(self, frame):
            received.append(frame.body)

    conn = stomp.Connection([("127.0.0.1", lab.layout.port("stomp"))], vhost="/")
    conn.set_listener("", Listener())
    conn.connect(USER, PASSWORD, wait=True)
    conn.subscribe("/topic/labtest", id=1, ack="auto")
    conn.send("/topic/labtest", "hello lab")
    for _ in range(50):
        if received:
            break
        __import__("time").sleep(0.1)
    conn.disconnect()
    assert received == ["hello lab"]


@pytest.mark.parametrize("protocol", ["davs", "root"])
def test_token_lets_gfal2_write_stat_checksum_read_delete_on_every_rse(
    lab, inventory, tokens, protocol, tmp_path, monkeypatch
):
    data = os.urandom(100_000)
    local = tmp_path / "in.dat"
    local.write_bytes(data)
    token = tokens.token("probe")
    monkeypatch.setenv("BEARER_TOKEN", token)  # gfal2's root:// reads the token only from here
    ctx = gfal2.creat_context()
    for rse in inventory.rses.values():
        ctx.cred_set(rse.protocols["davs"], ctx.cred_new("BEARER", token))
        url = rse.url(protocol, f"/lakeprobe/labtest/{uuid.uuid4().hex}.dat")
        params = ctx.transfer_parameters()
        params.create_parent = True
        ctx.filecopy(params, f"file://{local}", url)
        assert ctx.stat(url).st_size == len(data)
        assert ctx.checksum(url, "adler32").rjust(8, "0") == of_bytes(data).value
        ctx.filecopy(ctx.transfer_parameters(), url, f"file://{tmp_path}/out-{rse.name}")
        assert (tmp_path / f"out-{rse.name}").read_bytes() == data
        ctx.unlink(url)
        with pytest.raises(gfal2.GError):
            ctx.stat(url)


@pytest.mark.parametrize("client", [None, "probe-read"], ids=["no-token", "read-only-token"])
def test_writes_without_a_write_token_are_refused_on_both_protocols(lab, inventory, tokens, lab_env, client, tmp_path):
    local = tmp_path / "f"
    local.write_bytes(b"x" * 1000)
    rse = inventory.rses["XRD1"]
    env = Env(lab_env)
    headers = []
    if client:
        env["BEARER_TOKEN"] = tokens.token(client)
        headers = ["-H", bearer_header(env["BEARER_TOKEN"], tmp_path)]
    https = rse.url("davs", "/lakeprobe/labtest/refused.dat").replace("davs://", "https://")
    put = run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--capath",
            env["X509_CERT_DIR"],
            *headers,
            "-T",
            str(local),
            https,
        ],
        env,
    )
    assert put.stdout == "403"
    xrdcp = run(["xrdcp", "-f", str(local), rse.url("root", "/lakeprobe/labtest/refused.dat")], env)
    assert xrdcp.returncode != 0


def test_read_only_token_can_read(lab, inventory, tokens, lab_env, tmp_path):
    rse = inventory.rses["XRD1"]
    url = rse.url("root", f"/lakeprobe/labtest/{uuid.uuid4().hex}.dat")
    (tmp_path / "f").write_bytes(b"readable")
    upload = run(
        ["xrdcp", str(tmp_path / "f"), url], Env({**lab_env, "BEARER_TOKEN": tokens.token("probe")})
    ).returncode
    assert upload == 0
    back = run(
        ["xrdcp", "-f", url, str(tmp_path / "back")], Env({**lab_env, "BEARER_TOKEN": tokens.token("probe-read")})
    )
    assert back.returncode == 0, back.stderr[-500:]
    assert (tmp_path / "back").read_bytes() == b"readable"


def test_third_party_copy_with_tokens_on_both_ends(lab, inventory, tokens, lab_env, tmp_path):
    src, dst = inventory.rses["XRD1"], inventory.rses["XRD2"]
    token = tokens.token("probe")
    env = Env({**lab_env, "BEARER_TOKEN": token})
    name = uuid.uuid4().hex
    (tmp_path / "f").write_bytes(os.urandom(50_000))
    # Results are bound to names before asserting: a failed assert must not print a token from argv or env.
    upload = run(["xrdcp", str(tmp_path / "f"), src.url("root", f"/lakeprobe/labtest/{name}")], env).returncode
    assert upload == 0
    mkdir = run(["xrdfs", dst.protocols["root"], "mkdir", "-p", f"/lakeprobe/labtest/{name}.d"], env).returncode
    assert mkdir == 0
    auth = [
        "-H",
        bearer_header(token, tmp_path),
        "-H",
        bearer_header(token, tmp_path, "TransferHeaderAuthorization"),
        "-H",
        "Credential: none",
    ]
    https = lambda rse, path: rse.url("davs", path).replace("davs://", "https://")
    pull = run(
        [
            "curl",
            "-s",
            "--capath",
            env["X509_CERT_DIR"],
            "-X",
            "COPY",
            *auth,
            "-H",
            f"Source: {https(src, '/lakeprobe/labtest/' + name)}",
            https(dst, f"/lakeprobe/labtest/{name}.d/pull"),
        ],
        env,
    )
    assert "success" in pull.stdout, pull.stdout
    push = run(
        [
            "curl",
            "-s",
            "--capath",
            env["X509_CERT_DIR"],
            "-X",
            "COPY",
            *auth,
            "-H",
            f"Destination: {https(dst, f'/lakeprobe/labtest/{name}.d/push')}",
            https(src, f"/lakeprobe/labtest/{name}"),
        ],
        env,
    )
    assert "success" in push.stdout, push.stdout
    tpc = run(
        [
            "xrdcp",
            "--tpc",
            "only",
            src.url("root", f"/lakeprobe/labtest/{name}"),
            dst.url("root", f"/lakeprobe/labtest/{name}.d/tpc"),
        ],
        env,
    )
    assert tpc.returncode == 0, tpc.stderr
    for suffix in ("pull", "push", "tpc"):
        sums = run(["xrdfs", dst.protocols["root"], "query", "checksum", f"/lakeprobe/labtest/{name}.d/{suffix}"], env)
        assert sums.stdout.split()[-1] == of_bytes((tmp_path / "f").read_bytes()).value


def test_rucio_client_uploads_to_a_lab_rse_and_lists_the_replica(lab, tokens, lab_env, tmp_path):
    name = f"labtest-{uuid.uuid4().hex[:10]}"
    (tmp_path / name).write_bytes(os.urandom(10_000))
    script = f"""
import json
from rucio.client import Client
from rucio.client.uploadclient import UploadClient
client = Client()
UploadClient(client).upload([{{"path": "{tmp_path / name}", "rse": "XRD1", "did_scope": "lakeprobe"}}])
print(json.dumps([r for r in client.list_replicas([{{"scope": "lakeprobe", "name": "{name}"}}])]))
"""
    # Rucio's own client, with the scopes Rucio's daemons ask for: the probe's clients are not for Rucio.
    rucio_tokens = TokenProvider(
        tokens.issuer_url, tokens.client_secrets, tokens.audience, tokens.ca_bundle, {"rucio": CLIENTS["rucio"][0]}
    )
    env = Env({**lab_env, "RUCIO_CONFIG": str(lab.rucio.client_cfg), "BEARER_TOKEN": rucio_tokens.token("rucio")})
    proc = run([sys.executable, "-c", script], env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    replicas = json.loads(proc.stdout.strip().splitlines()[-1])
    assert list(replicas[0]["rses"]) == ["XRD1"]
    assert replicas[0]["rses"]["XRD1"][0].startswith("davs://localhost:")
