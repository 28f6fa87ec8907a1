"""`lakeprobe sweep` removes the run directories killed runs left below the probe prefix (and its `scoped`,
`scoped-beside` and `groups` areas), older than the age given, and nothing else; it re-checks the prefix itself and
touches nothing where the prefix is `/`, empty or holds `..`."""

import os
import time
from pathlib import Path

import pytest

from lakeprobe.inventory import RSE
from lakeprobe.state import RUN_AREAS
from lakeprobe.storage import Storage
from lakeprobe.sweep import sweep
from tests.helpers import lakeprobe_cli

OLD_RUN = "20200101T000000Z-01d01d"


def _place(lab, path: str) -> Path:
    """A file on the lab storage's disk, owned by the storage's user: no token reaches both the probe area
    and elsewhere, so the test writes as the storage itself would."""
    data, relative = lab.rse("XRD1").data, Path(path.lstrip("/"))
    (data / relative).parent.mkdir(parents=True, exist_ok=True)
    (data / relative).write_bytes(os.urandom(1000))
    owner = data.stat()
    for part in [relative, *relative.parents[:-1]]:
        os.chown(data / part, owner.st_uid, owner.st_gid)
    return data / relative


@pytest.mark.lab
def test_sweep_removes_old_run_directories_under_the_prefix_only(lab, inventory, lab_env):
    rse = inventory.rses["XRD1"]
    recent_run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-5ece07"
    old = [
        _place(lab, f"/lakeprobe/{OLD_RUN}/{sub}") for sub in ("davs/probe.dat", "tpc/source.dat", "tpc/deeper/x.dat")
    ]
    old += [_place(lab, f"/lakeprobe/{area}/{OLD_RUN}/root.dat") for area in RUN_AREAS if area]
    kept = [
        _place(lab, path)
        for path in (
            f"/lakeprobe/{recent_run}/davs/probe.dat",
            "/lakeprobe/not-a-run/keep.dat",
            f"/elsewhere/{OLD_RUN}/keep.dat",
        )
    ]

    dry = lakeprobe_cli("sweep", "--older-than", "1h", "--rse", "XRD1", "--dry-run", env=lab_env)
    assert dry.returncode == 0, dry.stderr
    # listed over root:// when the RSE has it: through a cluster's manager it sees every data server
    assert f"would remove   {rse.url('root', '/lakeprobe/' + OLD_RUN)}" in dry.stdout
    assert all(f.exists() for f in old + kept)

    swept = lakeprobe_cli("sweep", "--older-than", "1h", "--rse", "XRD1", env=lab_env)
    assert swept.returncode == 0, swept.stderr
    # Older run directories (of interrupted sessions on a kept lab) may go too; these must.
    assert f"removed        {rse.url('root', '/lakeprobe/' + OLD_RUN)}" in swept.stdout
    for area in filter(None, RUN_AREAS):
        assert f"removed        {rse.url('root', f'/lakeprobe/{area}/{OLD_RUN}')}" in swept.stdout
    assert not any(f.exists() for f in old)
    assert all(f.exists() for f in kept)
    for f in kept:
        f.unlink()


@pytest.mark.parametrize("prefix", ["/", "", "/lakeprobe/..", "lakeprobe"])
def test_sweep_touches_nothing_where_the_prefix_is_not_a_probe_area(prefix, tmp_path):
    """Even handed an RSE that skipped validation, the sweeper refuses the prefix and removes nothing."""
    root = tmp_path / "storage"
    victims = [root / OLD_RUN / "data.dat", root / "lakeprobe" / OLD_RUN / "keep.dat", root / OLD_RUN / "x" / "y"]
    for victim in victims:
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_text("precious")
    rse = RSE.model_construct(name="DISK", protocols={"file": f"file://{root}/"}, prefix=prefix)
    swept = sweep(Storage(None, 10, [rse]), [rse], older_than_s=0)
    assert [s.outcome.split(":")[0] for s in swept] == ["refused"]
    assert all(v.read_text() == "precious" for v in victims)


def test_sweep_on_a_file_lake_removes_only_old_run_directories(tmp_path):
    root = tmp_path / "storage"
    old, recent, other = (
        root / "lakeprobe" / OLD_RUN,
        root / "lakeprobe" / time.strftime("%Y%m%dT%H%M%SZ-abcdef"),
        root / "lakeprobe" / "mine",
    )
    for d in (old / "tpc", recent, other):
        d.mkdir(parents=True)
        (d / "f.dat").write_text("x")
    rse = RSE(name="DISK", protocols={"file": f"file://{root}/"})
    swept = sweep(Storage(None, 10, [rse]), [rse], older_than_s=3600)
    assert [(Path(s.url.removeprefix("file://")), s.outcome) for s in swept] == [(old, "removed")]
    assert not old.exists() and recent.exists() and other.exists()


@pytest.mark.lab
@pytest.mark.parametrize(
    "args, says",
    [
        (["--older-than", "soon"], "age 'soon' is not like 90s, 30m, 6h or 2d"),
        (["--rse", "LAPP"], "unknown RSE LAPP; known: XRD1, XRD2, XRD3"),
        (["--inventory", "/nonexistent.yaml"], "cannot read inventory /nonexistent.yaml"),
    ],
)
def test_sweep_bad_input_is_one_line(lab, lab_env, args, says):
    result = lakeprobe_cli("sweep", *args, env=lab_env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and says in result.stderr
