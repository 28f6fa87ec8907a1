"""`lakeprobe sweep` removes the run directories killed runs left under the probe prefix, older than the age
given, and nothing else."""
import os
import time

import pytest

from lakeprobe.errors import ProbeFailure
from lakeprobe.storage import Storage
from tests.conftest import lakeprobe_cli

OLD_RUN = "20200101T000000Z-01d01d"


@pytest.fixture
def storage(tokens):
    # The rucio client may write anywhere; the probe's token, which the sweeper uses, reaches /lakeprobe only.
    return Storage(tokens, timeout_s=20, client="rucio")


def _place(storage, rse, path, tmp_path):
    local = tmp_path / "f"
    local.write_bytes(os.urandom(1000))
    url = rse.url("root", path)
    storage.mkdir(url.rsplit("/", 1)[0])
    storage.upload(str(local), url, None)
    return url


def _exists(storage, url):
    try:
        storage.stat(url)
        return True
    except ProbeFailure as e:
        assert e.error_class == "not_found"
        return False


def test_sweep_removes_old_run_directories_under_the_prefix_only(lab, inventory, storage, lab_env, tmp_path):
    rse = inventory.rses["XRD1"]
    recent_run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-5ece07"
    old = [_place(storage, rse, f"/lakeprobe/{OLD_RUN}/{sub}", tmp_path)
           for sub in ("davs/probe.dat", "tpc/source.dat", "tpc/deeper/x.dat")]
    kept = [_place(storage, rse, path, tmp_path) for path in
            (f"/lakeprobe/{recent_run}/davs/probe.dat", "/lakeprobe/not-a-run/keep.dat", f"/elsewhere/{OLD_RUN}/keep.dat")]

    dry = lakeprobe_cli("sweep", "--older-than", "1h", "--rse", "XRD1", "--dry-run", env=lab_env)
    assert dry.returncode == 0, dry.stderr
    assert f"would remove   {rse.url('davs', '/lakeprobe/' + OLD_RUN)}" in dry.stdout
    assert all(_exists(storage, url) for url in old + kept)

    swept = lakeprobe_cli("sweep", "--older-than", "1h", "--rse", "XRD1", env=lab_env)
    assert swept.returncode == 0, swept.stderr
    # Older run directories (of interrupted sessions on a kept lab) may go too; this one must.
    assert f"removed        {rse.url('davs', '/lakeprobe/' + OLD_RUN)}" in swept.stdout
    assert "run directories removed from 1 RSEs" in swept.stdout
    assert not any(_exists(storage, url) for url in old)
    assert not _exists(storage, rse.url("root", f"/lakeprobe/{OLD_RUN}"))
    assert all(_exists(storage, url) for url in kept)
    for url in kept:
        storage.delete(url)


@pytest.mark.parametrize("args, says", [
    (["--older-than", "soon"], "age 'soon' is not like 30m, 6h or 2d"),
    (["--rse", "LAPP"], "unknown RSE LAPP; known: XRD1, XRD2, XRD3"),
    (["--inventory", "/nonexistent.yaml"], "cannot read inventory /nonexistent.yaml"),
])
def test_sweep_bad_input_is_one_line(lab, lab_env, args, says):
    result = lakeprobe_cli("sweep", *args, env=lab_env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and says in result.stderr
