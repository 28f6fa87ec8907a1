"""The MONIT sink against a real HTTP receiver on loopback (http.server, in this process) that checks every
document's shape as MONIT's HTTP JSON endpoint wants it (`producer`, `type`, `timestamp` in ms, ...) and keeps
documents by `_id`, as MONIT does. Runs are real runs of a lake of local directories: no lab needed."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lakeprobe import schema
from lakeprobe.records import Record, read_jsonl
from lakeprobe.sinks import MONIT_BATCH, SinkSpec, Spool, deliver
from tests.helpers import file_lake, lakeprobe_cli, one_line_error, own_lake, run_pytest, serving, user_env

PASSWORD = "monit-test-password"
MANDATORY = {"producer": str, "type": str, "type_prefix": str, "timestamp": int, "_id": str, "host": str}


class Receiver(ThreadingHTTPServer):
    """MONIT's endpoint as far as a producer sees it: POST /<producer>, a JSON list of documents, basic
    authentication with the producer and its password; answers `answer` (200 unless a test says otherwise)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.documents: dict[str, dict] = {}
        self.posts, self.problems, self.answer = 0, [], 200
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/lakeprobe"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "Basic " + base64.b64encode(f"lakeprobe:{PASSWORD}".encode()).decode()
        with self.server.lock:
            self.server.posts += 1
            if self.headers.get("Authorization") != expected:
                return self._reply(401, "wrong credentials")
            if self.server.answer != 200:
                return self._reply(self.server.answer, "not now")
            if self.path != "/lakeprobe" or not self.headers["Content-Type"].startswith("application/json"):
                self.server.problems.append(f"{self.path} {self.headers['Content-Type']}")
            for document in json.loads(body):
                wrong = [k for k, kind in MANDATORY.items() if not isinstance(document.get(k), kind)]
                if wrong or document["producer"] != "lakeprobe" or not 1e12 < document["timestamp"] < 1e13:
                    self.server.problems.append(f"{wrong} {document}")
                self.server.documents[document["_id"]] = document
        self._reply(200, "OK")

    def _reply(self, code: int, text: str):
        self.send_response(code)
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def monit():
    with serving(Receiver()) as receiver:
        yield receiver


def _run(tmp_path, monit_url, *args, password=PASSWORD, run=run_pytest):
    inventory = file_lake(tmp_path, lake=own_lake())
    results = tmp_path / "results"
    proc = run(
        "suites/site",
        "--inventory",
        str(inventory),
        "--results-dir",
        str(results),
        "--monit",
        monit_url,
        *args,
        env=user_env(LAKEPROBE_MONIT_PASSWORD=password),
    )
    return proc, [r for f in results.glob("*.jsonl") for r in read_jsonl(f)], results


def test_a_run_sends_each_record_as_one_monit_document(monit, tmp_path):
    proc, records, _ = _run(tmp_path, monit.url, "--monit-type", "probe_result")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"monit http://127.0.0.1:{monit.server_address[1]} lakeprobe: {len(records)} records written" in proc.stdout
    assert monit.problems == [] and len(monit.documents) == len(records) and monit.posts == 1
    by_key = {r.key: r for r in records}
    for document in monit.documents.values():
        record = by_key[f"{document['run_id']}|site|{document['check']}|{document['rse']}|file||"]
        assert document["type"] == "probe_result" and document["type_prefix"] == "raw"
        assert document["timestamp"] == round(record.ts * 1000)
        assert document["status"] == record.status and document["state"] == schema.STATE[record.status]
        assert {k: document[k] for k in ("lake", "run_kind", "message", "blame")} == {
            k: getattr(record, k) for k in ("lake", "run_kind", "message", "blame")
        }


def test_records_go_in_batches_and_delivering_twice_stores_once(monit, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEPROBE_MONIT_PASSWORD", PASSWORD)
    records = [
        Record(run_id="r", suite="site", check=f"c{i}", rse="A", ts=1.7e9 + i) for i in range(2 * MONIT_BATCH + 1)
    ]
    spec = SinkSpec("monit", monit.url, producer="lakeprobe", doc_type="lakeprobe_check")
    assert deliver(spec, records, tmp_path) == (len(records), 0, "")
    assert deliver(spec, records, tmp_path) == (len(records), 0, "")
    assert monit.posts == 6 and len(monit.documents) == len(records) and monit.problems == []


def test_while_monit_refuses_the_run_goes_on_and_a_replay_delivers(monit, tmp_path):
    monit.answer = 503
    proc, records, results = _run(tmp_path, monit.url)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"{len(records)} spooled for `lakeprobe results replay`" in proc.stdout and "HTTP 503" in proc.stdout
    assert monit.documents == {}
    monit.answer = 200
    env = user_env(LAKEPROBE_MONIT_PASSWORD=PASSWORD)
    replay = lakeprobe_cli("results", "replay", "--results-dir", str(results), env=env)
    assert replay.returncode == 0 and f"{len(records)} of {len(records)} spooled records delivered" in replay.stdout
    assert len(monit.documents) == len(records) and monit.problems == []
    spec = SinkSpec(**json.loads(next((results / "spool").glob("monit-*/sink.json")).read_text()))
    Spool(results, spec).keep(records)  # the same records again: the same documents
    assert lakeprobe_cli("results", "replay", "--results-dir", str(results), env=env).returncode == 0
    assert len(monit.documents) == len(records)


def test_a_wrong_password_is_refused_and_never_written_anywhere(monit, tmp_path):
    proc, records, results = _run(tmp_path, monit.url, password="not-the-password-7")
    assert proc.returncode == 0 and "HTTP 401" in proc.stdout and monit.documents == {}
    written = proc.stdout + proc.stderr + "".join(p.read_text() for p in results.rglob("*") if p.is_file())
    assert "not-the-password-7" not in written and PASSWORD not in written


@pytest.mark.parametrize(
    "url, args, words",
    [
        ("http://lakeprobe:hunter2@127.0.0.1:1/lakeprobe", [], "must not carry credentials"),
        ("http://127.0.0.1:1", [], "monit needs a producer"),
        ("ftp://127.0.0.1:1/lakeprobe", [], "http:// or https://"),
    ],
)
def test_monit_mistakes_are_one_line(url, args, words, tmp_path, run_pytest_here):
    proc, records, _ = _run(tmp_path, url, *args, run=run_pytest_here)
    assert proc.returncode == 4 and records == []
    assert words in one_line_error(proc) and "hunter2" not in proc.stdout + proc.stderr
