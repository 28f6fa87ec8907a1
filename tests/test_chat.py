"""Chat messages reach a real local HTTP receiver: one per run that changed something, "failing" when a fault
has held for the confirmation runs and "back to normal" once it is healed; flapping is never announced."""
import http.server
import json
import threading

import pytest

from lakeprobe.chat import changes, mark_announced
from lakeprobe.records import Record
from tests.conftest import Env

SELECTION = ("--rse", "XRD2", "--tpc-peer", "XRD1", "--protocol", "davs", "--timeout", "10")


@pytest.fixture
def receiver():
    """An incoming-webhook endpoint on loopback that keeps every JSON body posted to it."""
    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/not-a-real-secret", received
    server.shutdown()


def test_a_fault_then_its_healing_give_one_failing_and_one_back_to_normal_message(
        receiver, lab, lab_env, faulty, run_suite, tmp_path):
    url, received = receiver
    env = Env({**lab_env, "LAKEPROBE_CHAT_WEBHOOK": url})

    def round_():
        proc, _, _ = run_suite(*SELECTION, "--chat", "mattermost", results=tmp_path, env=env)
        assert "Traceback" not in proc.stdout + proc.stderr
        return proc

    assert round_().returncode == 0 and received == []  # a first healthy run has nothing to say
    faulty("XRD2", "down")
    round_()
    assert received == []  # one failing run is not yet a state (--chat-confirm 2)
    assert "chat: 1 changes sent to the mattermost webhook at 127.0.0.1" in round_().stdout
    assert len(received) == 1
    failing = received[0]["text"]
    assert "failing" in failing and "back to normal" not in failing
    assert "XRD2 davs connection: fail (unreachable)" in failing and received[0]["username"] == "lakeprobe"
    lab.heal("XRD2")
    round_()
    assert len(received) == 1
    assert round_().returncode == 0
    assert len(received) == 2
    back = received[1]["text"]
    assert "back to normal" in back and "failing" not in back and "XRD2 davs connection" in back
    assert url not in json.dumps(received) and all(url not in p.read_text() for p in tmp_path.glob("*.json*"))


def _announced(state, statuses) -> list[str]:
    sent = []
    for status in statuses:
        due = changes(state, [Record(run_id="r", suite="site", check="upload", rse="X", status=status)], confirm=2)
        mark_announced(state, due)
        sent += [c.health for c in due]
    return sent


def test_a_flapping_check_is_never_announced():
    state = {}
    assert _announced(state, ["pass", "fail", "pass", "fail", "pass", "fail", "pass"]) == []
    # Neutral states neither confirm nor break a change; a held state is announced once.
    assert _announced(state, ["fail", "skip", "fail", "downtime", "fail", "fail"]) == ["failing"]
    assert _announced(state, ["pass", "warn", "pass"]) == ["ok"]
