"""A user's mistake is refused before anything runs, in one line that names the culprit (the file, its line,
the RSE, the key or option), with a non-zero exit, no traceback, no record written and no sink touched.
Each row is a real `pytest suites/site ...` run against a lake of directories on this machine (file://), so
no lab is needed: in this process, for speed, and a sample of them as a site admin types them, each in a
process of its own."""

import http.server
import json
import signal

import pytest
import yaml

from tests.helpers import file_lake, lakeprobe_cli, local_http, one_line_error, run_pytest, serving, user_env

USAGE = 4  # pytest's exit code for a usage error


@pytest.fixture
def sink():
    """An HTTP server standing where the lake's InfluxDB would be: every request it gets is counted."""
    requests = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            requests.append(self.path)
            self.send_response(204)
            self.end_headers()

        def do_GET(self):
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    with serving(local_http(Hook)) as server:
        yield f"http://127.0.0.1:{server.server_port}", requests


def _lake(tmp_path, sink_url, change=None, text=None):
    path = file_lake(tmp_path, influxdb={"url": sink_url, "database": "lakeprobe"})
    if text is not None:
        path.write_text(text)
    elif change:
        data = yaml.safe_load(path.read_text())
        change(data, tmp_path)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _secrets(tmp_path, content='{"probe": "s3cret"}', mode=0o600):
    path = tmp_path / "clients.json"
    path.write_text(content)
    path.chmod(mode)
    return str(path)


def _rse(**settings):
    return lambda data, tmp: data["rses"]["DISK1"].update(settings)


def _issuer(**settings):
    def change(data, tmp):
        data["issuer"] = {
            "url": "https://iam.example.org",
            **{k: (v(tmp) if callable(v) else v) for k, v in settings.items()},
        }

    return change


INVENTORY_MISTAKES = [
    ("prefix-root", _rse(prefix="/"), ["line", "RSE DISK1", "prefix", "storage root"]),
    ("prefix-empty", _rse(prefix=""), ["RSE DISK1", "prefix", "absolute path"]),
    ("prefix-dotdot", _rse(prefix="/lakeprobe/.."), ["RSE DISK1", "prefix", "'..'"]),
    ("prefix-relative", _rse(prefix="lakeprobe"), ["RSE DISK1", "prefix", "absolute"]),
    ("unknown-key", _rse(prefx="/elsewhere"), ["RSE DISK1", "unknown key 'prefx'"]),
    ("negative-timeout", _rse(timeout_s=-5), ["RSE DISK1", "timeout_s", "greater than 0"]),
    ("zero-concurrency", _rse(max_concurrent=0), ["RSE DISK1", "max_concurrent"]),
    ("url-without-scheme", _rse(protocols={"davs": "se.example.org:443/"}), ["RSE DISK1", "protocols", "not a URL"]),
    (
        "gsiftp-under-davs",
        _rse(protocols={"davs": "gsiftp://se.example.org:2811/"}),
        ["RSE DISK1", "gsiftp://", "davs://"],
    ),
    ("https-under-davs", _rse(protocols={"davs": "https://se.example.org:443/"}), ["RSE DISK1", "https://", "davs://"]),
    (
        "credentials-in-url",
        _rse(protocols={"davs": "davs://probe:hunter2@se.example.org:443/"}),
        ["RSE DISK1", "credentials"],
    ),
    (
        "ipv6-literal-under-davs",
        _rse(protocols={"davs": "davs://[2001:db8::1]:443/"}),
        ["RSE DISK1", "IPv6 literal", "name the host"],
    ),
    ("unknown-protocol", _rse(protocols={"s3": "s3://se.example.org/"}), ["RSE DISK1", "unknown protocol 's3'"]),
    ("bad-tpc-mode", _rse(quirks={"tpc_modes": ["stream"]}), ["RSE DISK1", "quirks.tpc_modes", "'stream'"]),
    (
        "bad-rse-name",
        lambda data, tmp: data["rses"].update({"LAPP site": data["rses"].pop("DISK1")}),
        ["RSE LAPP site", "not an RSE name"],
    ),
    (
        "cache-of-unknown-origin",
        lambda data, tmp: data.update(caches={"XC1": {"protocols": {"root": "root://c:1094/"}, "origins": ["X"]}}),
        ["cache XC1", "unknown origin X"],
    ),
    (
        "cache-unknown-protocol",
        lambda data, tmp: data.update(caches={"XC1": {"protocols": {"s3": "s3://c/"}, "origins": ["DISK1"]}}),
        ["cache XC1", "unknown protocol 's3'"],
    ),
    (
        "cache-named-as-an-rse",
        lambda data, tmp: data.update(caches={"DISK1": {"protocols": {"root": "root://c:1/"}, "origins": ["DISK1"]}}),
        ["cache DISK1", "an RSE has that name"],
    ),
    (
        "cache-old-revalidates",
        lambda data, tmp: data.update(
            caches={"XC1": {"protocols": {"root": "root://c:1/"}, "origins": ["DISK1"], "revalidates": False}}
        ),
        ["cache", "`revalidates` is now `revalidate_s`"],
    ),
    (
        "cache-evict-client-without-issuer",
        lambda data, tmp: data.update(
            caches={"XC1": {"protocols": {"root": "root://c:1/"}, "origins": ["DISK1"], "evict_client": "evictor"}}
        ),
        ["cache XC1", "evict_client evictor is not a client of the issuer"],
    ),
    ("x509-rse-without-proxy", _rse(x509=True), ["RSE DISK1", "`x509: true` needs the proxy"]),
    (
        "x509-proxy-missing",
        lambda data, tmp: data.update(x509={"vo": "dteam", "proxy": "/tmp/x509up_u-nobody"}),
        ["x509.proxy", "does not exist"],
    ),
    ("missing-ca-dir", lambda data, tmp: data.update(ca_dir="/etc/no-such-ca-dir"), ["ca_dir", "not a directory"]),
    ("no-rses", lambda data, tmp: data.update(rses={}), ["rses"]),
    (
        "clients-file-missing",
        _issuer(clients_file="/etc/lakeprobe/clients.json"),
        ["issuer.clients_file", "does not exist"],
    ),
    (
        "clients-file-bad-json",
        _issuer(clients_file=lambda tmp: _secrets(tmp, "{not json")),
        ["issuer.clients_file", "not a JSON object"],
    ),
    (
        "clients-file-readable-by-others",
        _issuer(clients_file=lambda tmp: _secrets(tmp, mode=0o644)),
        ["issuer.clients_file", "readable by others", "chmod 600"],
    ),
    (
        "client-without-secret",
        _issuer(clients_file=lambda tmp: _secrets(tmp), scopes={"probe-read": "storage.read:/"}),
        ["issuer", "no secret for client probe-read"],
    ),
    ("issuer-url-with-credentials", _issuer(url="https://me:pw@iam.example.org"), ["issuer.url", "credentials"]),
    (
        "sql-url-with-password",
        lambda data, tmp: data.update(postgres={"url": "postgresql://me:pw@db:5432/x"}),
        ["postgres.url", "credentials"],
    ),
]


def _assert_refused(proc, results, requests, says, secret=None):
    assert proc.returncode == USAGE, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = one_line_error(proc)
    for word in says:
        assert word in line, line
    if secret:
        assert secret not in proc.stdout + proc.stderr
    assert not results.exists() or not list(results.glob("*.jsonl")), "a record was written"
    assert requests == [], "a sink was touched"
    return line


def _inventory_mistake(run, name, tmp_path, sink):
    _, change, says = next(m for m in INVENTORY_MISTAKES if m[0] == name)
    url, requests = sink
    inventory = _lake(tmp_path, url, change)
    results = tmp_path / "results"
    proc = run("suites/site", "--inventory", str(inventory), "--results-dir", str(results), env=user_env())
    line = _assert_refused(proc, results, requests, says, secret="hunter2")
    assert str(inventory) in line


@pytest.mark.parametrize("name", [m[0] for m in INVENTORY_MISTAKES])
def test_inventory_mistakes_are_one_line_before_anything_runs(name, tmp_path, sink, run_pytest_here):
    _inventory_mistake(run_pytest_here, name, tmp_path, sink)


@pytest.mark.parametrize(
    "text, says",
    [
        ("rses:\n  DISK1:\n    protocols: {file: 'file:///tmp/'}\n   prefix: /x\n", ["line 4", "not valid YAML"]),
        (
            "rses:\n  DISK1:\n    protocols: {file: 'file:///tmp/'}\n    prefix: /a\n    prefix: /b\n",
            ["line 5", "'prefix' is given twice"],
        ),
        ("- just\n- a list\n", ["expected a mapping"]),
    ],
    ids=["bad-indent", "duplicate-key", "not-a-mapping"],
)
def test_yaml_mistakes_name_the_line(text, says, tmp_path, sink, run_pytest_here):
    url, requests = sink
    inventory = _lake(tmp_path, url, text=text)
    proc = run_pytest_here(
        "suites/site", "--inventory", str(inventory), "--results-dir", str(tmp_path / "r"), env=user_env()
    )
    _assert_refused(proc, tmp_path / "r", requests, says)


OPTION_MISTAKES = [
    (["--rse", "DISK1", "--rse", "DISK1"], ["--rse", "DISK1 given more than once"]),
    (["--rse", "LAPP"], ["unknown RSE LAPP", "known: DISK1, DISK2"]),
    (["--tpc-peer", "LAPP"], ["unknown RSE LAPP"]),
    (["--timeout", "0"], ["--timeout must be a number of seconds above 0"]),
    (["--timeout", "-1"], ["--timeout must be", "'-1'"]),
    (["--timeout", "soon"], ["--timeout must be", "'soon'"]),
    (["--file-size", "-5"], ["--file-size", "'-5'"]),
    (["--file-size", "900T"], ["--file-size"]),
    (["--retries", "99"], ["--retries must be a whole number from 0 to 10"]),
    (["--rse-concurrency", "0"], ["--rse-concurrency"]),
    (["--protocol", "s3"], ["--protocol", "unknown protocol s3"]),
    (["--protocol", "file", "--protocol", "file"], ["--protocol", "given more than once"]),
    (["--results-dir", "{file}"], ["--results-dir", "is a file, not a directory"]),
    (["--inventory", "/no/such/lake.yaml"], ["--inventory", "/no/such/lake.yaml: no such file"]),
    (["--chat", "slack"], ["--chat needs", "LAKEPROBE_CHAT_WEBHOOK"]),
    (["--chat", "slack", "--chat-confirm", "0"], ["--chat-confirm"]),
    (["--influxdb", "http://me:hunter2@127.0.0.1:1", "--influxdb-database", "x"], ["must not carry credentials"]),
    (["--shard", "0/3"], ["--shard", "'0/3' is not K/N with 1 <= K <= N"]),
    (["--shard", "4/3"], ["--shard", "is not K/N"]),
    (["--shard", "two"], ["--shard", "is not K/N"]),
    (["--tpc-pairs", "some"], ["--tpc-pairs", "'some' is neither all nor rotate"]),
    (["--rotate-peers", "0"], ["--rotate-peers must be a whole number from 1"]),
    (["--run-id", "a b"], ["--run-id", "letters, digits"]),
]


def _option_mistake(run, args, tmp_path, sink):
    says = next(s for a, s in OPTION_MISTAKES if a == args)
    url, requests = sink
    inventory = _lake(tmp_path, url)
    results = tmp_path / "results"
    (tmp_path / "a-file").write_text("")
    args = [a.replace("{file}", str(tmp_path / "a-file")) for a in args]
    env = user_env()
    env.pop("LAKEPROBE_CHAT_WEBHOOK", None)
    if "--chat-confirm" in args:
        env["LAKEPROBE_CHAT_WEBHOOK"] = "https://hooks.example.org/not-a-secret"
    inventory_args = [] if "--inventory" in args else ["--inventory", str(inventory)]
    results_args = [] if "--results-dir" in args else ["--results-dir", str(results)]
    proc = run("suites/site", *inventory_args, *results_args, *args, env=env)
    _assert_refused(proc, results, requests, says, secret="hunter2")


@pytest.mark.parametrize("args", [a for a, _ in OPTION_MISTAKES], ids=[" ".join(a) for a, _ in OPTION_MISTAKES])
def test_option_mistakes_are_one_line_before_anything_runs(args, tmp_path, sink, run_pytest_here):
    _option_mistake(run_pytest_here, args, tmp_path, sink)


# One of each kind, as typed: a secret in the inventory, a value the inventory model refuses, an option the
# lake plugin refuses, one another plugin (chat) refuses.
AS_TYPED = [
    ("inventory", "credentials-in-url"),
    ("inventory", "prefix-root"),
    ("option", ["--rse", "LAPP"]),
    ("option", ["--chat", "slack"]),
    ("option", ["--influxdb", "http://me:hunter2@127.0.0.1:1", "--influxdb-database", "x"]),
]


@pytest.mark.parametrize("kind, mistake", AS_TYPED, ids=[str(m) for _, m in AS_TYPED])
def test_a_mistake_is_refused_the_same_in_a_process_of_its_own(kind, mistake, tmp_path, sink):
    if kind == "inventory":
        _inventory_mistake(run_pytest, mistake, tmp_path, sink)
    else:
        _option_mistake(run_pytest, mistake, tmp_path, sink)


def test_an_issuer_url_that_serves_no_discovery_document_is_refused(tmp_path, sink):
    """A wrong issuer URL path (HTTP 404 where discovery should be) is the user's mistake, not 24 site errors."""
    url, requests = sink
    inventory = _lake(
        tmp_path,
        url,
        lambda data, tmp: data.update(
            issuer={"url": f"{url}/wrong/path", "clients_file": _secrets(tmp), "scopes": {"probe": "storage.read:/"}}
        ),
    )
    proc = run_pytest(
        "suites/site", "--inventory", str(inventory), "--results-dir", str(tmp_path / "r"), env=user_env()
    )
    assert proc.returncode == USAGE, proc.stdout[-2000:]
    line = one_line_error(proc)
    assert "issuer.url" in line and "no OpenID discovery document there (HTTP 404" in line
    assert requests == ["/wrong/path/.well-known/openid-configuration"]  # the only request: discovery
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*.jsonl"))


def test_no_lake_says_how_to_get_one(tmp_path):
    proc = run_pytest("suites/site", env=user_env(LAKEPROBE_LAB_DIR=str(tmp_path / "no-lab")))
    assert proc.returncode == USAGE
    assert "no lake: start one with `lakeprobe lab up`, or pass --inventory PATH" in one_line_error(proc)


def test_the_shipped_example_inventory_is_refused_in_one_line_not_a_traceback():
    proc = run_pytest("suites/site", "--inventory", "ci/inventory.example.yaml", env=user_env())
    assert proc.returncode == USAGE
    assert "ci/inventory.example.yaml line" in one_line_error(proc)


@pytest.mark.parametrize(
    "args, says",
    [
        (["sweep", "--timeout=-1"], "--timeout: must be a number of seconds above 0"),
        (["sweep", "--older-than", "1"], "age '1' is not like 90s, 30m, 6h or 2d (the unit is required)"),
        (["sweep", "--older-than", "soon"], "age 'soon'"),
        (["sweep", "--rse", "LAPP", "--inventory", "{lake}"], "unknown RSE LAPP; known: DISK1, DISK2"),
        (["sweep", "--inventory", "/no/such.yaml"], "cannot read inventory /no/such.yaml"),
        (["report", "--stale-after", "2"], "--stale-after"),
        (["report", "--from-sql", "nosuchdb://db/x"], "--from-sql: nosuchdb:// is no database dialect"),
        (["report", "--from-sql", "postgresql://me:pw@db/x"], "--from-sql: must not carry credentials"),
        (["results", "discard", "nothing"], "no spool for sink 'nothing'"),
        (["lab", "fault", "XRD1", "melt"], "XRD1"),
    ],
)
def test_command_mistakes_are_one_line(args, says, tmp_path, sink, run_lakeprobe_here):
    lake = _lake(tmp_path, sink[0])
    args = [a.replace("{lake}", str(lake)) for a in args]
    proc = run_lakeprobe_here(
        *args, env=user_env(LAKEPROBE_LAB_DIR=str(tmp_path / "no-lab"), LAKEPROBE_RESULTS_DIR=str(tmp_path / "results"))
    )
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr
    assert says in one_line_error(proc)
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN  # the command's own handler went with it


def test_a_command_mistake_is_refused_the_same_in_a_process_of_its_own(tmp_path):
    proc = lakeprobe_cli("sweep", "--older-than", "1", env=user_env(LAKEPROBE_LAB_DIR=str(tmp_path / "no-lab")))
    assert proc.returncode == 2
    assert "age '1' is not like 90s, 30m, 6h or 2d" in one_line_error(proc)


def test_records_reach_the_sink_once_the_run_is_right(tmp_path, sink):
    """The counterpart: the same lake, without mistakes, runs and writes its records to the sink."""
    url, requests = sink
    inventory = _lake(tmp_path, url)
    proc = run_pytest(
        "suites/site", "--inventory", str(inventory), "--results-dir", str(tmp_path / "r"), env=user_env()
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert requests and all(r.startswith("/write") for r in requests)
    records = [json.loads(line) for f in (tmp_path / "r").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert {r["status"] for r in records} == {"pass", "skip"}
