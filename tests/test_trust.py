"""The probe is a target too. Endpoints the tests start show where lakeprobe's token goes and what a storage's
words become: a door that redirects to plain HTTP, a redirect loop, a door that redirects to another host
over https, a root:// endpoint without TLS, each behind a recorder of what it received; and a hostile
endpoint whose answers (escape sequences, markup, mentions, huge and non-UTF-8 bodies) must reach the
terminal, the records, the status page and chat inert and bounded."""

import re
import threading
import time
from urllib.parse import quote

import pytest

from lakeprobe import chat
from lakeprobe.errors import ErrorClass, ProbeFailure
from lakeprobe.protocols import xrdcli
from lakeprobe.records import Record
from lakeprobe.untrusted import MESSAGE_CHARS
from tests.doors import Door, everything
from tests.helpers import lakeprobe_cli, own_lake, rse_entry
from tests.proxy import Proxy

pytestmark = pytest.mark.lab

TOKEN = re.compile(rb"eyJ[\w-]+\.[\w-]+|authz=|Bearer", re.IGNORECASE)
HOSTILE = (
    b"\x1b[2J\x1b]0;owned\x07\x1b[31m <script>document.body.dataset.pwned=1</script>"
    b'<img src=x onerror="document.body.dataset.pwned=2"> <!channel> @here [click](https://evil.example) \xff\xfe'
)


def _site(run_suite, lake, rse, **kwargs):
    return run_suite("--inventory", lake, "--rse", rse, "--tpc-peer", "XRD2", "--timeout", "30", **kwargs)


def _one(records, rse, check):
    found = [r for r in records if r.rse == rse and r.check == check]
    assert len(found) == 1, [(r.check, r.status) for r in records]
    return found[0]


def test_a_door_that_redirects_to_plain_http_gets_no_token_and_is_a_security_finding(lab, inventory_with, run_suite):
    with (
        Door(lambda r: (200, {}, b"ok")) as plain,
        Door(lambda r: (307, {"Location": plain.url("127.0.0.1") + r.path}, b""), lab.layout.pki) as door,
    ):
        lake = inventory_with({"DOWNGRADE": rse_entry(f"davs://localhost:{door.port}/", None)})
        proc, records, _ = _site(run_suite, lake, "DOWNGRADE")
    connection = _one(records, "DOWNGRADE", "connection")
    assert (connection.status, connection.error_class) == ("fail", "security"), connection
    assert f"redirects to http://127.0.0.1:{plain.port}" in connection.message and "no token" in connection.message
    assert not plain.received, everything(plain.received)  # nothing followed the downgrade, token or not
    assert not TOKEN.search(everything(door.received).encode()), everything(door.received)
    passed = {r.check for r in records if r.rse == "DOWNGRADE" and r.status == "pass"}
    assert passed <= {"connection_ipv4"}, proc.stdout[-2000:]  # that one is the TLS handshake alone


def test_a_redirect_loop_is_a_protocol_error_and_stops_nothing_else(lab, inventory_with, run_suite):
    with Door(lambda r: (302, {"Location": r.path}, b""), lab.layout.pki) as door:
        lake = inventory_with({"LOOP": rse_entry(f"davs://localhost:{door.port}/", None)})
        proc, records, _ = _site(run_suite, lake, "LOOP")
    connection = _one(records, "LOOP", "connection")
    assert (connection.status, connection.error_class) == ("fail", "protocol_error"), connection
    assert "redirect loop" in connection.message
    # gfal2 itself crashes on such a loop: no check may have handed it this endpoint
    assert proc.returncode == 1 and "Segmentation" not in proc.stderr, proc.stderr[-2000:]
    assert {r.status for r in records if r.rse == "LOOP" and not r.check.startswith("connection")} == {"skip"}


def test_a_door_redirecting_to_another_host_over_https_is_followed_and_judged_there(
    lab, inventory, inventory_with, run_suite
):
    """Every request to localhost:DOOR is sent on to the lab's XRD1 at 127.0.0.1, as a dCache or EOS door
    sends a client to a pool: the round passes, and the token checks judge what XRD1 answers."""
    xrd1 = inventory.rses["XRD1"].protocols["davs"].rsplit(":", 1)[1].strip("/")

    def send_on(received):  # a read's token goes into the Location too, as XrdHttp does it, for clients that
        # drop the header on a redirect to another host (libcurl, in the XRootD TPC agent that pulls from it)
        token = received.headers.get("Authorization", "") if received.method == "GET" else ""
        where = f"https://127.0.0.1:{xrd1}{received.path}" + (f"?authz={quote(token)}" if token else "")
        return 307, {"Location": where}, b""

    with Door(send_on, lab.layout.pki) as door:
        lake = inventory_with({"DOOR": rse_entry(f"davs://localhost:{door.port}/", None)})
        proc, records, _ = _site(run_suite, lake, "DOOR")
    mine = [r for r in records if r.rse == "DOOR"]
    assert {r.status for r in mine} == {"pass"}, [(r.check, r.status, r.message) for r in mine if r.status != "pass"]
    connection = _one(records, "DOOR", "connection")
    assert connection.message == f"via localhost:{door.port} -> 127.0.0.1:{xrd1}", connection.message
    assert {"read_scope", "no_token", "wrong_audience", "embargo_publish"} <= {r.check for r in mine}


def test_a_root_endpoint_without_tls_gets_no_token_and_is_named(extra_rse, inventory_with, run_suite):
    clear = extra_rse(16, tls=False)
    recorder = Proxy(clear.root_port)
    try:
        lake = inventory_with({"CLEAR": rse_entry(None, f"root://localhost:{recorder.port}/")})
        proc, records, _ = _site(run_suite, lake, "CLEAR")
    finally:
        recorder.close()
    connection = _one(records, "CLEAR", "connection")
    assert (connection.status, connection.error_class) == ("fail", "tls"), connection
    assert "offers no TLS on root://, so lakeprobe sends it no token" in connection.message
    assert recorder.connections and not TOKEN.search(bytes(recorder.sent)), bytes(recorder.sent)[:500]


def _hostile(received):
    if received.method == "HEAD":  # reachable: the chain goes on to meet the rest
        return 200, {}, b""
    if received.method == "PROPFIND":
        return 404, {}, b""
    return 500, {"Reason": "\x1b[31mBROKEN\x07"}, HOSTILE + b"A" * 8_000_000


@pytest.fixture(scope="module")
def hostile_round(lab, run_suite, tmp_path_factory):
    """A round of a lake of its own whose one RSE is the hostile endpoint."""
    import yaml

    results = tmp_path_factory.mktemp("hostile")
    data = yaml.safe_load(lab.layout.inventory.read_text())
    data.pop("caches", None)
    with Door(_hostile, lab.layout.pki) as door:
        data["lake"], data["rses"] = own_lake("hostile"), {"HOSTILE": rse_entry(f"davs://localhost:{door.port}/", None)}
        lake = results / "lake.yaml"
        lake.write_text(yaml.safe_dump(data))
        proc, records, _ = run_suite("--inventory", str(lake), "--timeout", "30", results=results)
    return proc, records, results


def test_a_hostile_endpoints_words_reach_the_terminal_and_the_records_inert_and_bounded(hostile_round):
    proc, records, results = hostile_round
    assert any("<script>" in r.message for r in records), [r.message for r in records]
    for r in records:
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", r.message), r.message
        assert len(r.message) <= MESSAGE_CHARS and "AAAA" * 300 not in r.message
    assert any("\\x1b[2J" in r.message for r in records)  # shown, as text
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout + proc.stderr
    for stored in results.glob("*.jsonl"):
        assert "\\u001b" not in stored.read_text() and "\\u0007" not in stored.read_text()


def test_a_hostile_endpoints_words_run_nothing_on_the_status_page(hostile_round, lab_env, tmp_path):
    from tests.test_report import _chromium

    _, _, results = hostile_round
    made = lakeprobe_cli("report", "--results-dir", str(results), env=lab_env)
    assert made.returncode == 0, made.stderr
    dom = _chromium("--dump-dom", f"file://{results / 'status.html'}", cwd=tmp_path)
    assert "<h1>Data lake status" in dom.stdout, dom.stderr[-1000:]
    assert "data-pwned" not in dom.stdout and "<script>document" not in dom.stdout
    assert "&lt;script&gt;document.body.dataset.pwned=1&lt;/script&gt;" in dom.stdout


@pytest.mark.parametrize("kind", chat.KINDS)
def test_a_hostile_endpoints_words_mention_and_link_nobody_in_chat(kind, hostile_round, receiver, tmp_path):
    url, received = receiver
    _, records, _ = hostile_round
    failing = [r for r in records if r.status == "fail"]
    rounds = [
        [Record.from_dict({**r.to_dict(), "run_kind": "round", "run_id": run})]
        for run in ("a", "b")
        for r in failing[:1]
    ]
    said = chat.notify(kind, url, rounds, 2, "lake", tmp_path / "pending.json")
    assert "sent" in said, said
    text = received[-1]["text"]
    assert "<script>" in failing[0].message
    assert "<!channel>" not in text and "@here" not in text and "](https://evil.example)" not in text, text
    assert "https://evil.example" not in text, text


def test_xrdcp_and_xrdfs_get_the_calls_token_and_no_other_secret(monkeypatch):
    monkeypatch.setenv("SOME_NEW_SINK_PASSWORD", "not-for-children")
    monkeypatch.setenv("BEARER_TOKEN_FILE", "/run/user/0/not-for-children")
    monkeypatch.setenv("XRD_LOGLEVEL", "Error")  # a client setting: passed on
    done = xrdcli.run(["env"], "the-calls-token", 10)
    seen = dict(line.split("=", 1) for line in done.stdout.decode().splitlines() if "=" in line)
    assert "not-for-children" not in done.stdout.decode()
    assert seen["BEARER_TOKEN"] == "the-calls-token" and seen["XRD_LOGLEVEL"] == "Error"


def test_retries_back_off_at_most_the_cap_and_end_at_once_on_ctrl_c(monkeypatch):
    from lakeprobe import attempts, deadline

    def refused():
        raise ProbeFailure(ErrorClass.UNREACHABLE, "refused")

    waits = []
    monkeypatch.setattr(deadline.interrupted, "wait", lambda s: waits.append(s) or False)
    with pytest.raises(ProbeFailure):
        attempts.attempt(Record(run_id="r", suite="site", check="mkdir"), refused, retries=10)
    assert waits == [0.5, 1, 2, 4, 4, 4, 4, 4, 4, 4] and attempts.BACKOFF_CAP_S == 4
    monkeypatch.undo()

    threading.Timer(0.3, deadline.interrupted.set).start()
    started = time.monotonic()
    try:
        with pytest.raises(deadline.Interrupted):
            attempts.attempt(Record(run_id="r", suite="site", check="mkdir"), refused, retries=10)
    finally:
        deadline.interrupted.clear()
    assert time.monotonic() - started < 1.5


def test_rses_with_their_own_audiences_get_tokens_for_them_and_refuse_each_others(
    lab, extra_rse, inventory_with, run_suite
):
    """Two RSEs that take tokens for their own audience only (https://localhost:PORT): every check asks for
    tokens of the RSE's audience and passes, and `audience_replay` (a token for the other's audience) passes;
    then one of them also takes the other's audience, and its `audience_replay` fails security."""
    own = {i: f"https://localhost:{lab.layout.rse_ports(i)[1]}" for i in (17, 18)}
    rses = {i: extra_rse(i, audiences=(own[i],)) for i in (17, 18)}
    lake = inventory_with({r.name: rse_entry(r.davs_url, r.root_url, audience=own[i]) for i, r in rses.items()})
    proc, records, _ = run_suite("--inventory", lake, "--rse", "XRD17", "--rse", "XRD18", "--timeout", "20")
    not_passed = [(r.check, r.rse, r.protocol, r.status, r.message) for r in records if r.status != "pass"]
    assert {r.check for r in records if r.status == "skip"} <= {"root_tpc"}, not_passed
    assert all("own audiences" in r.message for r in records if r.status == "skip")
    assert not [r for r in not_passed if r[3] != "skip"], not_passed
    assert len([r for r in records if r.check == "audience_replay" and r.status == "pass"]) == 4

    extra_rse(18, audiences=(own[18], own[17]))  # it takes tokens stolen at XRD17 too
    proc, records, _ = run_suite("--inventory", lake, "--rse", "XRD18", "-k", "audience_replay or read_scope")
    replay = {(r.protocol, r.status, r.error_class) for r in records if r.check == "audience_replay"}
    assert replay == {("davs", "fail", "security"), ("root", "fail", "security")}, proc.stdout[-2000:]
    assert all(r.status == "pass" for r in records if r.check == "read_scope")
