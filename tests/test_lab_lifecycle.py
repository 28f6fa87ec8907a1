"""`lab up` twice is harmless, `lab down` leaves no process and no listening port, and bad input gets one
clear line and a non-zero exit. Uses a one-RSE lab of its own (ports from 24000)."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from lab.layout import default_run_dir
from lakeprobe.records import read_jsonl
from tests.helpers import lakeprobe_cli, one_line_error, run_pytest, status_json, user_env

pytestmark = pytest.mark.lab

BASE = 24000


@pytest.fixture(scope="module")
def own_lab_env():
    env = user_env(LAKEPROBE_LAB_DIR=str(default_run_dir()) + "-lifecycle", LAKEPROBE_LAB_BASE_PORT=str(BASE))
    for name in ("X509_CERT_DIR", "SSL_CERT_FILE", "SSL_CERT_DIR"):  # another lab's CAs: this lab has its own
        env.pop(name, None)
    yield env
    lakeprobe_cli("lab", "down", env=env)


def _listening(first: int, last: int) -> list[str]:
    lines = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in lines if first <= int(line.split()[3].rsplit(":", 1)[1]) <= last]


def test_up_twice_then_down_leaves_nothing_behind(own_lab_env):
    first = lakeprobe_cli("lab", "up", "--rses", "1", env=own_lab_env)
    assert first.returncode == 0, first.stderr + _logs_named_in(first.stderr)
    pids_before = {c["name"]: c["up"] for c in status_json(own_lab_env)["components"]}
    second = lakeprobe_cli("lab", "up", "--rses", "1", env=own_lab_env)
    assert second.returncode == 0, second.stderr
    assert {c["name"]: c["up"] for c in status_json(own_lab_env)["components"]} == pids_before
    assert all(pids_before.values())
    run_dir = own_lab_env["LAKEPROBE_LAB_DIR"]
    pid_files = [os.path.join(d, f) for d, _, files in os.walk(run_dir) for f in files if f.endswith(".pid")]
    pids = [int(text) for text in (Path(p).read_text().strip() for p in pid_files) if text.isdigit()]
    assert pids

    down = lakeprobe_cli("lab", "down", env=own_lab_env)
    assert down.returncode == 0, down.stderr
    assert _listening(BASE, BASE + 300) == []
    assert [p for p in pids if os.path.exists(f"/proc/{p}") and _state(p) != "Z"] == []
    assert not any(c["up"] for c in status_json(own_lab_env)["components"])


def _logs_named_in(message: str) -> str:
    """The end of the log a lab error points to, and of the service's own logs beside it: CI shows only this."""
    match = re.search(r"\(see (/\S+)\)", message)
    if not match:
        return ""
    logs = [Path(match[1]), *Path(match[1]).parent.glob("log/*.log")]
    return "".join(
        f"\n--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        for log in logs
        if log.is_file()
    )


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize(
    "args, says",
    [
        (["lab", "up", "--rses", "0"], "--rses must be between 1 and 50"),
        (["lab", "up", "--rses", "51"], "--rses must be between 1 and 50"),
        (["lab", "fault", "NOPE", "down"], "no lab RSE named 'NOPE'"),
        (["lab", "fault", "XRD1", "melt"], "unknown fault kind 'melt'"),
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_exit(own_lab_env, args, says):
    result = lakeprobe_cli(*args, env=own_lab_env)
    assert result.returncode != 0
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_cluster_rse_comes_up_takes_its_faults_and_goes_down(own_lab_env, tmp_path):
    """`lab up --cluster`: one more RSE, XRD2, that is a manager and two data servers, registered in Rucio
    (suites/rucio passes on it); its faults are a cluster's; `lab up` without it stops it, `lab down` leaves
    nothing."""
    import yaml

    Path(own_lab_env["LAKEPROBE_LAB_DIR"], "clusters/XRD2/fault").unlink(missing_ok=True)  # an interrupted run's
    up = lakeprobe_cli("lab", "up", "--rses", "1", "--cluster", env=own_lab_env)
    assert up.returncode == 0, up.stderr + _logs_named_in(up.stderr)
    assert "1 RSEs and the cluster XRD2" in up.stdout
    nodes = {c["name"]: c for c in status_json(own_lab_env)["components"] if c["name"].startswith("XRD2-")}
    assert sorted(nodes) == ["XRD2-manager", "XRD2-server1", "XRD2-server2"] and all(c["up"] for c in nodes.values())
    inventory = yaml.safe_load(Path(status_json(own_lab_env)["inventory"]).read_text())
    assert inventory["rses"]["XRD2"]["protocols"]["davs"] == nodes["XRD2-manager"]["url"]  # the door
    lake = status_json(own_lab_env)["inventory"]
    # rucio_deletion judges what earlier rounds left to the reaper: a lab just brought up has not had its turn.
    rucio = run_pytest(
        "suites/rucio",
        "-q",
        "-k",
        "not rucio_deletion",
        "--inventory",
        lake,
        "--rse",
        "XRD2",
        "--results-dir",
        str(tmp_path),
        env=own_lab_env,
    )
    records = [r for f in tmp_path.glob("*.jsonl") for r in read_jsonl(f)]
    assert rucio.returncode == 0, rucio.stdout[-3000:]
    assert {r.protocol for r in records if r.rse == "XRD2"} == {"davs", "root"}
    # Without a transfer tool the lab's Rucio moves no data: the rule transfers are skipped, as on every RSE.
    assert {(r.check, r.status) for r in records if r.status != "pass"} <= {("rucio_rule_transfer", "skip")}
    manager_pid = Path(own_lab_env["LAKEPROBE_LAB_DIR"], "clusters/XRD2/manager/xrootd.pid")
    before = manager_pid.read_text()
    assert lakeprobe_cli("lab", "up", "--rses", "1", "--cluster", env=own_lab_env).returncode == 0
    assert manager_pid.read_text() == before  # up twice changes nothing

    refused = lakeprobe_cli("lab", "fault", "XRD2", "hang", env=own_lab_env)
    assert refused.returncode != 0 and "not one a cluster takes" in one_line_error(refused)
    assert lakeprobe_cli("lab", "fault", "XRD2", "server-down", env=own_lab_env).returncode == 0
    states = {c["name"]: (c["up"], c.get("fault")) for c in status_json(own_lab_env)["components"]}
    assert [states[n] for n in sorted(nodes)] == [(True, "server-down"), (True, "server-down"), (False, "server-down")]
    assert lakeprobe_cli("lab", "heal", "XRD2", env=own_lab_env).returncode == 0
    assert all(c["up"] for c in status_json(own_lab_env)["components"] if c["name"].startswith("XRD2-"))

    without = lakeprobe_cli("lab", "up", "--rses", "1", env=own_lab_env)
    assert without.returncode == 0, without.stderr
    assert not any(c["name"].startswith("XRD2") for c in status_json(own_lab_env)["components"])
    assert _listening(BASE + 110, BASE + 119) == []  # the cluster's ports, the second RSE's block
    assert lakeprobe_cli("lab", "down", env=own_lab_env).returncode == 0
    assert _listening(BASE, BASE + 300) == []


def test_a_library_built_by_parallel_starts_is_whole_whenever_seen(tmp_path):
    """The RSEs start in parallel on a fresh run directory, and each builds the lab's XRootD plugin: none
    may find it half-written (a clean CI clone's lab once came up with an RSE that exited on it)."""
    from concurrent.futures import ThreadPoolExecutor

    from lab import procs
    from lab.rse import SCOPE_BOUNDARY_SOURCE

    lib, seen = tmp_path / "lib" / "scope_boundary.so", set()
    with ThreadPoolExecutor(4) as pool:
        builds = [pool.submit(procs.build_library, SCOPE_BOUNDARY_SOURCE, lib) for _ in range(3)]
        while not all(b.done() for b in builds):  # what a starting server would find there, at any moment
            if lib.exists():
                seen.add(lib.stat().st_size)
            time.sleep(0.0005)
        for b in builds:
            b.result()
    assert seen <= {lib.stat().st_size}, "a partial library was visible"
    assert [p.name for p in lib.parent.iterdir()] == ["scope_boundary.so"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("crashes, ends", [(1, "serving"), (2, "crashed twice"), (0, "exits")])
def test_a_server_that_crashes_while_starting_is_started_once_more_and_only_then(tmp_path, crashes, ends):
    """A server killed by a crash signal during start-up (as XRootD 5.5.3 now and then is) gets one more start;
    a second crash, or a plain exit (a configuration error), is the start's failure at once."""
    from lab import procs

    port, starts = _free_port(), tmp_path / "starts"
    if ends == "exits":
        script = f"echo x >> {starts}; exit 1"
    else:  # the first `crashes` starts die of SIGSEGV, the next one serves
        script = (
            f"echo x >> {starts}; [ $(wc -l < {starts}) -le {crashes} ] && kill -SEGV $$; "
            f"exec python3 -m http.server --bind 127.0.0.1 {port}"
        )
    pid_file, log = tmp_path / "server.pid", tmp_path / "server.log"
    start = lambda: procs.start_server(
        ["sh", "-c", script], pid_file=pid_file, log_file=log, env={}, ports=(port,), what="the server", server_log=log
    )
    try:
        if ends == "serving":
            start()
            assert procs.port_open(port)
        else:
            with pytest.raises(procs.LabError, match="the server exited during start-up"):
                start()
    finally:
        procs.stop(pid_file)
    assert len(starts.read_text().splitlines()) == {"serving": 2, "crashed twice": 2, "exits": 1}[ends]
