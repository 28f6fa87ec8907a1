"""The end-of-run summary fits the terminal (COLUMNS, else 100) and says every finding in words."""

import pytest

from lakeprobe.records import Record
from lakeprobe.summary import lines

CHAIN = ["connection", "mkdir", "upload", "stat", "checksum", "download", "list", "delete", "stat_after_delete"]
AUTHZ = [
    "read_scope",
    "create_scope",
    "modify_scope",
    "path_scope",
    "no_token",
    "expired_token",
    "wrong_audience",
    "unknown_issuer",
]
FAMILIES = {**{c: "storage" for c in CHAIN}, **{c: "authz" for c in AUTHZ}}


def _round(rses: int) -> list[Record]:
    records = []
    names = [f"A-VERY-LONG-SITE-NAME-{i}" for i in range(rses)]
    for name in names:
        for protocol in ("davs", "root"):
            records += [Record(run_id="r", suite="site", check=c, rse=name, protocol=protocol) for c in CHAIN + AUTHZ]
    for a in names:
        for b in names:
            if a != b:
                records += [
                    Record(run_id="r", suite="site", check="davs_pull", rse=a, peer=b, protocol="davs", mode="pull")
                ]
    records[2].status, records[2].error_class = "fail", "checksum_mismatch"
    records[2].message = "stored adler32 0badf00d, ours 1a0b045d " + "and a very long explanation " * 10
    records[5].status, records[5].error_class, records[5].message = "warn", "slow", "slow: 1000 B/s"
    return records


@pytest.mark.parametrize("width", [80, 100])
def test_the_summary_fits_the_width_and_names_every_finding(width):
    records = _round(20)
    out = lines(records, FAMILIES, width)
    assert max(map(len, out)) <= width
    assert any("davs upload: fail checksum_mismatch: stored" in line for line in out)
    assert any("davs download: warn slow: slow: 1000 B/s" in line for line in out)
    assert out[-1] == f"{len(records)} checks: 1 fail, 1 warn, {len(records) - 2} pass"
    assert any(line.startswith("A-VERY-LONG-SITE-NAME-19 root") for line in out)


def test_a_wide_round_falls_back_to_one_count_per_family():
    many = {f"check{i}": "storage" for i in range(120)}
    records = [Record(run_id="r", suite="site", check=c, rse="XRD1", protocol="davs") for c in many]
    out = lines(records, many, 80)
    assert any(line.startswith("XRD1 davs") and ". 120/120" in line for line in out)
