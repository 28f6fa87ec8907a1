"""A round leaves nothing on the storage, however it is run: one suite or both, in parallel or not, narrowed
with -k or --rse, with failures (a corrupting RSE keeps what it was given). Checked on the lab's disks, and
with the sweeper, which must find nothing of the run to remove. (Ctrl-C: tests/test_terminal.py.)"""

import pytest

from tests.helpers import lakeprobe_cli, left_on_storage

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(
    "suite, args, fault",
    [
        ("suites", ["-n", "3"], None),
        ("suites/site", ["-k", "upload or mkdir or connection"], None),
        ("suites/site", ["--rse", "XRD1", "-n", "2"], None),
        ("suites/site", [], "corrupt"),
    ],
    ids=["both suites -n 3", "-k", "--rse -n 2", "failures"],
)
def test_a_round_leaves_nothing_however_it_is_run(suite, args, fault, lab, lab_env, faulty, run_suite):
    if fault:
        faulty("XRD2", fault)
    proc, records, _ = run_suite(*args, "--timeout", "60", suite=suite)
    assert records, proc.stdout[-3000:]
    run_id = records[0].run_id
    left = left_on_storage(lab, run_id)
    assert left == [], left
    swept = lakeprobe_cli("sweep", "--older-than", "0s", "--dry-run", env=lab_env)
    assert run_id not in swept.stdout, swept.stdout
    assert "cleanup: this run's directories removed" in proc.stdout
