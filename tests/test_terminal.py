"""What a person at the terminal sees: what a hanging endpoint makes the round wait for, Ctrl-C ending the
run within two seconds with one line (and its run directories removed), `-n auto`, failed test ids that
pytest takes back, and `lakeprobe lab status` telling with its exit code whether the lab is whole."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import LAKEPROBE, PYTHON, REPO, lakeprobe_cli, left_on_storage, run_pytest

pytestmark = pytest.mark.lab


def test_a_hanging_endpoint_is_named_while_the_round_waits_for_it(faulty, run_suite):
    faulty("XRD2", "hang")
    proc, records, _ = run_suite("--rse", "XRD2", "--tpc-peer", "XRD1", "--timeout", "12")
    waits = [line for line in proc.stdout.splitlines() if "waiting for" in line]
    assert waits and "connection to XRD2" in waits[0] and "s left)" in waits[0], proc.stdout[-2000:]
    assert all(len(line) <= 100 for line in proc.stdout.splitlines() if line.startswith("lakeprobe:"))


def _start_round(lab, lab_env, tmp_path, *args: str) -> subprocess.Popen:
    """XRD2's checks with XRD1 as its copy peer, in a session of their own (a terminal's foreground group)."""
    return subprocess.Popen(
        [PYTHON, "-m", "pytest", "suites/site", "-p", "no:cacheprovider", "-q", "--results-dir", str(tmp_path)]
        + ["--inventory", str(lab.layout.inventory), "--rse", "XRD2", "--tpc-peer", "XRD1", *args],
        cwd=REPO,
        env=lab_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two workers"])
def test_ctrl_c_stops_within_two_seconds_with_one_line_and_cleans_up(workers, lab, lab_env, faulty, tmp_path):
    faulty("XRD2", "slow")  # uploads to XRD2 take 16 s: Ctrl-C comes while one is under way
    uploads = "lakeprobe/2*/*/probe-*"
    earlier = set(lab.rse("XRD2").data.glob(uploads))  # what an earlier run could not remove
    proc = _start_round(lab, lab_env, tmp_path, *workers)
    deadline = time.monotonic() + 60
    while not set(lab.rse("XRD2").data.glob(uploads)) - earlier and time.monotonic() < deadline:
        time.sleep(0.1)  # until an upload of this run to XRD2 is under way
    interrupted = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"still running 60 s after Ctrl-C:\n{out[-2000:]}\n{err[-2000:]}")
    took = time.monotonic() - interrupted
    assert took < 2 + 20, (took, out[-2000:])  # stopping: 2 s; then removing the run's directories
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, out[-2000:] + err[-2000:]
    said = [line for line in (out + err).splitlines() if "nterrupt" in line or "Ctrl-C" in line]
    assert len(said) == 1 and "Ctrl-C: finished checks recorded, the rest not tried" in said[0], out[-2000:]
    assert "findings (" not in out, out[-2000:]  # nothing the interruption cut short is a finding
    run_id = re.search(r"^run (\S+) \(adhoc\)", out, re.MULTILINE)[1]
    assert left_on_storage(lab, run_id) == []


def test_ctrl_c_while_the_workers_start_stops_the_run_without_a_traceback(lab, lab_env, tmp_path):
    proc = _start_round(lab, lab_env, tmp_path, "-n", "2")
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 60
    while len(children.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # until both workers are spawned: they are starting up now
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in out + err and "INTERNALERROR" not in out + err, out[-2000:] + err[-2000:]
    assert "Ctrl-C: finished checks recorded, the rest not tried" in out, out[-2000:]
    assert " passed" not in out.splitlines()[-1], out[-2000:]  # nothing ran past the Ctrl-C


def test_n_auto_works_and_failed_ids_can_be_given_back_to_pytest(faulty, lab, lab_env, tmp_path):
    faulty("XRD2", "down")
    proc = run_pytest(
        "suites/site",
        "-q",
        "-n",
        "auto",
        "--inventory",
        str(lab.layout.inventory),
        "--results-dir",
        str(tmp_path),
        "--timeout",
        "10",
        env=lab_env,
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    failed = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("FAILED ")]
    assert "suites/site/test_storage.py::test_connection[XRD2-davs]" in failed
    assert not [f for f in failed if "@" in f]
    again = run_pytest(
        failed[0],
        "-q",
        "--inventory",
        str(lab.layout.inventory),
        "--results-dir",
        str(tmp_path),
        "--timeout",
        "10",
        env=lab_env,
    )
    assert again.returncode == 1 and "1 failed" in again.stdout, again.stdout[-2000:]


def test_lab_status_exits_non_zero_when_a_component_is_down_and_survives_a_closed_pipe(lab, lab_env):
    assert lakeprobe_cli("lab", "status", env=lab_env).returncode == 0
    lab.stop_service("influxdb")
    try:
        down = lakeprobe_cli("lab", "status", env=lab_env)
        assert down.returncode == 1 and "influxdb" in down.stderr and "DOWN" in down.stdout
    finally:
        lab.influxdb.start()
    piped = subprocess.run(f"{LAKEPROBE} lab status | head -1", shell=True, env=lab_env, capture_output=True, text=True)
    assert piped.stdout.count("\n") == 1 and "Error" not in piped.stderr, piped.stderr
