"""The third protocol, file://, a POSIX directory as an RSE (registered in one line): the chain runs on it as
on any storage, with no lab; and the plugin's selection, scheduling, records and cleanup, tested fast."""

import json
import os

import pytest

from tests.helpers import file_lake, run_pytest, user_env

CHAIN = ["connection", "mkdir", "upload", "stat", "checksum", "download", "list", "delete", "stat_after_delete"]


def _records(results):
    return [json.loads(line) for f in results.glob("*.jsonl") for line in f.read_text().splitlines()]


@pytest.mark.parametrize("workers", [[], ["-n", "auto"]], ids=["one process", "auto workers"])
def test_the_chain_runs_on_a_file_lake_and_leaves_nothing(workers, tmp_path):
    inventory = file_lake(tmp_path, rses=("DISK1", "DISK2", "DISK-3"))
    proc = run_pytest(
        "suites/site", "--inventory", str(inventory), "--results-dir", str(tmp_path / "r"), *workers, env=user_env()
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    records = _records(tmp_path / "r")
    chain = {(r["rse"], r["check"]): r["status"] for r in records if r["check"] in CHAIN}
    assert chain == {(rse, check): "pass" for rse in ("DISK1", "DISK2", "DISK-3") for check in CHAIN}
    skipped = {r["message"] for r in records if r["status"] == "skip"}
    assert skipped == {"file:// has no token authorization"}
    assert {r["lake"] for r in records} == {"file-lake"} and {r["run_kind"] for r in records} == {"round"}
    assert [p for p in tmp_path.rglob("*") if records[0]["run_id"] in p.name and p.suffix != ".jsonl"] == []
    assert "DISK-3 file" in proc.stdout and "cleanup: this run's directories removed from 3 RSEs" in proc.stdout
    if workers:  # local directories wait on nothing: one worker per core, not two per RSE
        assert f"{os.cpu_count()} workers [" in proc.stdout


def test_selection_narrows_the_run_to_an_adhoc_one(tmp_path):
    inventory = file_lake(tmp_path)
    proc = run_pytest(
        "suites/site",
        "--inventory",
        str(inventory),
        "--results-dir",
        str(tmp_path / "r"),
        "--rse",
        "DISK2",
        "-k",
        "connection or mkdir",
        env=user_env(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    records = _records(tmp_path / "r")
    assert {(r["rse"], r["check"]) for r in records} == {("DISK2", "connection"), ("DISK2", "mkdir")}
    assert {r["run_kind"] for r in records} == {"adhoc"}


def test_a_broken_file_rse_fails_its_connection_and_skips_the_rest_naming_it(tmp_path):
    inventory = file_lake(tmp_path)
    (tmp_path / "disk2").rmdir()  # the mount is gone
    proc = run_pytest(
        "suites/site",
        "--inventory",
        str(inventory),
        "--results-dir",
        str(tmp_path / "r"),
        "-k",
        "storage",
        env=user_env(),
    )
    assert proc.returncode == 1
    records = [r for r in _records(tmp_path / "r") if r["rse"] == "DISK2"]
    connection = next(r for r in records if r["check"] == "connection")
    assert connection["status"] == "fail" and "is not a directory on this machine" in connection["message"]
    assert connection["blame"] == "DISK2"
    rest = [r for r in records if r["check"] != "connection"]
    assert rest and all(r["status"] == "skip" and "connection failed" in r["message"] for r in rest)
    assert "FAILED suites/site/test_storage.py::test_connection[DISK2-file]" in proc.stdout
