"""Fixtures of the framework's own tests. Tests marked `lab` run against a real lab of their own (run
directory .lab-tests, ports from 23000; a second xdist worker's .lab-tests-gw1, ports from 25000), brought
up once per session and down at the end; the others need no lab (`make test-fast`)."""

import contextlib
import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from lab.rse import StorageElement
from lakeprobe.inventory import load_yaml
from lakeprobe.paths import default_lab_dir
from lakeprobe.records import read_jsonl
from lakeprobe.tokens import TokenProvider
from tests.helpers import REPO, TEST_BASE_PORT, WORKER, local_http, run_pytest, serving, user_env

# A lab of their own, apart from a lab the user may have up: another run directory and port range (both can be
# moved again, for a second test session on the same machine).
TEST_LAB_DIR = (os.environ.get("LAKEPROBE_TEST_LAB_DIR") or str(default_lab_dir()) + "-tests") + (
    f"-gw{WORKER}" if WORKER else ""
)


@pytest.fixture
def run_pytest_here(monkeypatch, capsys):
    """Runs `pytest ARGS` in this process, with the environment `env` and the output captured, as
    run_pytest does in a process of its own. For runs refused before anything runs (the user's mistakes):
    a new process costs twenty times the refusal itself. Runs that probe get a process of their own."""

    def run_it(*args, env) -> subprocess.CompletedProcess:
        return _here(monkeypatch, capsys, env, lambda: pytest.main([*args, "-p", "no:cacheprovider"]))

    return run_it


@pytest.fixture
def run_lakeprobe_here(monkeypatch, capsys):
    """`lakeprobe ARGS` in this process, as run_pytest_here runs pytest; for the command's mistakes."""
    from lakeprobe import cli

    def main(args):
        try:
            return cli.main(list(args))
        except SystemExit as e:  # argparse's own exit
            return e.code

    def run_it(*args, env) -> subprocess.CompletedProcess:
        return _here(monkeypatch, capsys, env, lambda: main(args))

    return run_it


def _here(monkeypatch, capsys, env, call) -> subprocess.CompletedProcess:
    # Whatever the run sets in its process goes with it: its environment, its signal handlers (`lakeprobe`
    # gives SIGPIPE its default action, which would end this process at a later write to a closed socket).
    saved = dict(os.environ)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM)}
    os.environ.clear()
    os.environ.update(env)
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    try:
        code = call()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        for number, handler in handlers.items():
            if handler is not None:
                signal.signal(number, handler)
    out = capsys.readouterr()
    return subprocess.CompletedProcess([], int(code or 0), out.out, out.err)


@pytest.fixture(scope="session")
def lab():
    from lab.lab import Lab
    from lab.layout import Layout

    layout = Layout.from_env(run_dir=TEST_LAB_DIR, base_port=TEST_BASE_PORT)
    the_lab = Lab(layout)
    for rse in the_lab.rses():  # a fault left over from an interrupted session must not leak into this one
        if rse.fault:
            the_lab.heal(rse.name)
    the_lab.up(3)
    yield the_lab
    the_lab.down()


@pytest.fixture(scope="session")
def lab_env(lab):
    """Environment for commands run against the test lab, as a user's shell would have it."""
    return user_env(
        LAKEPROBE_LAB_DIR=str(lab.layout.run_dir),
        X509_CERT_DIR=str(lab.layout.ca_dir),
        GFAL_PYTHONBIN="/usr/bin/python3",
    )


@pytest.fixture(scope="session")
def inventory(lab):
    return load_yaml(lab.layout.inventory)


@pytest.fixture(scope="session")
def tokens(inventory) -> TokenProvider:
    return TokenProvider.for_lake(inventory)


@pytest.fixture(scope="session")
def run_suite(lab, lab_env, tmp_path_factory):
    """Runs `pytest suites/site ...` (or the suite given) against the test lab as a user would; returns
    (process, records, seconds)."""

    def run_it(*args, suite="suites/site", timeout=900, results=None, env=None, inventory=None):
        results = results or tmp_path_factory.mktemp("results")
        started = time.monotonic()
        proc = run_pytest(
            suite,
            "-q",
            "--inventory",
            str(inventory or lab.layout.inventory),
            "--results-dir",
            str(results),
            *args,
            env=env or lab_env,
            timeout=timeout,
        )
        seconds = time.monotonic() - started
        records = [r for f in sorted(Path(results).glob("*.jsonl")) for r in read_jsonl(f)]
        return proc, records, seconds

    return run_it


@pytest.fixture
def faulty(lab):
    """Inject a fault into a test-lab RSE for the duration of one test; always healed afterwards."""
    injected = []

    def inject(rse, kind):
        lab.fault(rse, kind)
        injected.append(rse)

    yield inject
    for rse in injected:
        lab.heal(rse)


@pytest.fixture
def inventory_with(lab, tmp_path):
    """The lab inventory with some RSEs' entries changed or added, as a site would declare them."""
    import yaml

    def write(extra_rses: dict | None = None, **changes):
        data = yaml.safe_load(lab.layout.inventory.read_text())
        for rse, settings in changes.items():
            data["rses"][rse].update(settings)
        data["rses"].update(extra_rses or {})
        path = tmp_path / "inventory.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)

    return write


@contextlib.contextmanager
def _beside_the_lab(make):
    """`start(index, **variant)`: storage made by `make`, (re)started fresh; all of it stopped afterwards."""
    started = []

    def start(index: int, **variant):
        storage = make(index, **variant)
        storage.stop()
        storage.prepare()
        storage.start()
        started.append(storage)
        return storage

    try:
        yield start
    finally:
        for storage in started:
            storage.stop()


@pytest.fixture
def extra_rse(lab):
    """A storage element beside the lab's, configured otherwise (lab.rse.StorageElement's variants)."""
    with _beside_the_lab(functools.partial(StorageElement, lab.layout)) as start:
        yield start


@pytest.fixture
def dual_stack_lake(lab, tmp_path):
    """The lab inventory with its RSEs named by a host name with an IPv4 and an IPv6 address."""
    import yaml

    from lab.hosts import DUAL_STACK_HOST

    data = yaml.safe_load(lab.layout.inventory.read_text())
    for spec in data["rses"].values():
        spec["protocols"] = {p: u.replace("localhost", DUAL_STACK_HOST) for p, u in spec["protocols"].items()}
    path = tmp_path / "dual.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def pytest_collection_modifyitems(config, items):
    """Fast tests first: a broken basic gives its answer before the lab comes up."""
    items.sort(key=lambda item: item.get_closest_marker("lab") is not None)


@pytest.fixture
def small_lake(lab, tmp_path):
    """The test lab as a smaller lake (some RSEs, some protocols): a full round of it is quick."""
    import yaml

    def write(rses=("XRD1", "XRD2"), protocols=("davs",), lake="small-lake") -> str:
        data = yaml.safe_load(lab.layout.inventory.read_text())
        data["lake"] = lake
        data.pop("caches", None)  # its origin may be left out
        data["rses"] = {
            name: {**spec, "protocols": {p: u for p, u in spec["protocols"].items() if p in protocols}}
            for name, spec in data["rses"].items()
            if name in rses
        }
        path = tmp_path / f"{lake}.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)

    return write


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

    with serving(local_http(Hook)) as server:
        yield f"http://127.0.0.1:{server.server_port}/hooks/not-a-real-secret", received


@pytest.fixture
def extra_cluster(lab):
    """An XRootD cluster (a manager and its data servers, lab/cluster.py) beside the lab's RSEs, as one more
    storage element."""
    from lab.cluster import Cluster

    def make(index: int, fault: str = "") -> Cluster:
        cluster = Cluster(lab.layout, index)
        cluster.set_fault(fault)  # none left from another test
        return cluster

    with _beside_the_lab(make) as start:
        yield start


def _http_server(argv: list[str], health: str):
    """A real server of ours on a free loopback port, waited for until `health` answers: (URL, process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([a.format(port=port) for a in argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{url}{health}", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    return url, server


@pytest.fixture
def victoria_metrics(tmp_path):
    """VictoriaMetrics (Debian): it takes InfluxDB's v2 write API and Prometheus' text format, and answers PromQL."""
    url, server = _http_server(
        [
            "victoria-metrics",
            f"-storageDataPath={tmp_path / 'vm'}",
            "-httpListenAddr=127.0.0.1:{port}",
            "-search.latencyOffset=0s",
        ],
        "/health",
    )
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def pushgateway():
    """Prometheus' Pushgateway (Debian), in memory."""
    url, server = _http_server(["prometheus-pushgateway", "--web.listen-address=127.0.0.1:{port}"], "/-/ready")
    yield url
    server.terminate()
    server.wait(timeout=10)
