"""Endpoints configured unlike the lab, with real extra processes: a healthy storage that offers md5 instead
of adler32 is not called corrupt; broken ones are named the way a site admin says it (host name does not
resolve, certificate not trusted, certificate expired, plain HTTP on a TLS port); a slow link is no
finding; a path that stalls midway costs one deadline, and everything else on that endpoint is skipped
naming that first failure."""

import http.server
import socket

import pytest

from tests.helpers import left_in_tmp, local_http, rse_entry, serving
from tests.proxy import Proxy

pytestmark = pytest.mark.lab

CHAIN = ["connection", "mkdir", "upload", "stat", "checksum", "download", "list", "delete", "stat_after_delete"]


def _by(records, **want):
    return [r for r in records if all(getattr(r, k) == v for k, v in want.items())]


@pytest.mark.parametrize("quirks", [{}, {"checksum": "md5"}], ids=["as-is", "declared"])
def test_a_storage_offering_md5_is_not_called_corrupt(quirks, extra_rse, inventory_with, run_suite):
    md5 = extra_rse(15, checksum="md5")
    lake = inventory_with({"XRD15": rse_entry(md5.davs_url, md5.root_url, quirks=quirks)})
    proc, records, _ = run_suite("--inventory", lake, "--rse", "XRD15", "--tpc-peer", "XRD1", "--timeout", "20")
    assert not [r for r in records if r.error_class == "checksum_mismatch"], proc.stdout[-3000:]
    checksum = _by(records, check="checksum", rse="XRD15")
    if quirks:
        assert {r.status for r in checksum} == {"pass"} and proc.returncode == 0
    else:
        assert {(r.status, r.error_class) for r in checksum} == {("warn", "checksum_unsupported")}
        assert all("offers md5, not adler32" in r.message for r in checksum)
    # Uploads verify with md5, and copies both ways (into it: verified with md5; out of it: with adler32).
    assert {r.status for r in records if r.check in ("upload", "download") or r.peer} == {"pass"}
    assert {(r.rse, r.peer) for r in records if r.peer} == {("XRD15", "XRD1"), ("XRD1", "XRD15")}
    assert all(r.status == "pass" for r in records if r.check != "checksum"), proc.stdout[-3000:]


def test_no_checksum_quirk_applies_to_copies_too(extra_rse, inventory_with, run_suite):
    md5 = extra_rse(15, checksum="md5")
    lake = inventory_with({"XRD15": rse_entry(md5.davs_url, md5.root_url, quirks={"no_checksum": True})})
    proc, records, _ = run_suite(
        "--inventory", lake, "--rse", "XRD15", "--tpc-peer", "XRD1", "--timeout", "20", "-k", "storage or tpc"
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {r.status for r in records if r.peer} == {"pass"}
    assert {r.status for r in _by(records, check="checksum", rse="XRD15")} == {"skip"}


@pytest.fixture
def plain_http_port():
    with serving(local_http(http.server.SimpleHTTPRequestHandler)) as server:
        yield server.server_port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_broken_endpoints_are_named_as_a_site_admin_says_it(
    extra_rse, faulty, plain_http_port, inventory_with, run_suite
):
    foreign = extra_rse(16, certificate="foreign")
    faulty("XRD3", "expired-cert")
    refused = _free_port()
    lake = inventory_with(
        {
            "NORESOLVE": rse_entry(
                "davs://no-such-host.lakeprobe.invalid:443/", "root://no-such-host.lakeprobe.invalid:1094/"
            ),
            "FOREIGN": rse_entry(foreign.davs_url, foreign.root_url),
            "PLAINHTTP": rse_entry(f"davs://localhost:{plain_http_port}/", None),
            "REFUSED": rse_entry(f"davs://localhost:{refused}/", f"root://localhost:{refused}/"),
        }
    )
    proc, records, _ = run_suite(
        "--inventory",
        lake,
        "--timeout",
        "10",
        "-k",
        "connection",
        *[a for n in ("NORESOLVE", "FOREIGN", "PLAINHTTP", "REFUSED", "XRD3") for a in ("--rse", n)],
    )
    said = {(r.rse, r.protocol): (r.status, r.error_class, r.message) for r in records if r.check == "connection"}
    for protocol in ("davs", "root"):
        assert said[("NORESOLVE", protocol)][:2] == ("fail", "unreachable")
        assert "host name no-such-host.lakeprobe.invalid does not resolve" in said[("NORESOLVE", protocol)][2]
        assert said[("FOREIGN", protocol)][:2] == ("fail", "tls")
        assert "certificate not trusted (unknown CA: a CA the lake does not know)" in said[("FOREIGN", protocol)][2]
        assert said[("XRD3", protocol)][:2] == ("fail", "tls")
        assert "certificate expired on " in said[("XRD3", protocol)][2]
        assert said[("REFUSED", protocol)][:2] == ("fail", "unreachable")
        assert "refuses connections" in said[("REFUSED", protocol)][2]
    assert said[("PLAINHTTP", "davs")][:2] == ("fail", "tls")
    assert "the port speaks plain HTTP, not TLS" in said[("PLAINHTTP", "davs")][2]
    assert not [r for r in records if r.error_class == "unknown"]


def test_a_slow_link_is_slower_not_broken(lab, inventory, inventory_with, run_suite):
    rse = inventory.rses["XRD1"]
    davs, root = (int(rse.protocols[p].rsplit(":", 1)[1].strip("/")) for p in ("davs", "root"))
    proxies = [Proxy(davs, delay_s=0.3), Proxy(root, delay_s=0.3)]
    try:
        lake = inventory_with(
            {"SLOWLINK": rse_entry(f"davs://localhost:{proxies[0].port}/", f"root://localhost:{proxies[1].port}/")}
        )
        proc, records, _ = run_suite("--inventory", lake, "--rse", "SLOWLINK", "--tpc-peer", "XRD2", "--timeout", "20")
    finally:
        for p in proxies:
            p.close()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {r.status for r in records} == {"pass"}
    assert proxies[0].connections > 3  # the probes went through the slow path


def test_a_stall_midway_costs_one_deadline_and_names_the_root_cause(lab, lab_env, inventory, inventory_with, run_suite):
    rse = inventory.rses["XRD1"]
    davs = int(rse.protocols["davs"].rsplit(":", 1)[1].strip("/"))
    proxy = Proxy(davs, stall_after=300_000)  # TLS and small requests pass; a 1 MiB upload stalls midway
    try:
        lake = inventory_with({"STALLS": rse_entry(f"davs://localhost:{proxy.port}/", None)})
        with left_in_tmp(lab_env) as (left, env):
            proc, records, seconds = run_suite(
                "--inventory",
                lake,
                "--rse",
                "STALLS",
                "--tpc-peer",
                "XRD2",
                "--protocol",
                "davs",
                "--timeout",
                "6",
                "-k",
                "not embargo and not scope",
                env=env,
            )
    finally:
        proxy.close()
    assert left == []  # the run left at once (calls abandoned), but not its token file
    timeouts = [r for r in records if r.error_class == "timeout"]
    assert [(r.check, r.rse) for r in timeouts] == [("upload", "STALLS")], proc.stdout[-3000:]
    skipped = [r for r in records if r.status == "skip" and "STALLS" in (r.rse, r.peer)]
    assert skipped, proc.stdout[-3000:]
    for r in skipped:
        assert "upload" in r.message and ("timed out" in r.message or "no answer" in r.message), r.message
    assert seconds < 6 * 3 + 30  # one deadline, not one per check (generous: process start-up on 2 cores)


def test_the_terminal_and_junit_tell_a_warn_and_its_reason(extra_rse, inventory_with, run_suite, tmp_path):
    md5 = extra_rse(15, checksum="md5")
    lake = inventory_with({"XRD15": rse_entry(md5.davs_url, None)})
    junit = tmp_path / "junit.xml"
    proc, records, _ = run_suite(
        "--inventory", lake, "--rse", "XRD15", "--tpc-peer", "XRD1", "-k", "storage", f"--junit-xml={junit}"
    )
    assert [r.status for r in records if r.check == "checksum"] == ["warn"]
    assert (
        "1 warned" in proc.stdout
        and "XRD15 davs checksum: warn checksum_unsupported: the storage offers md5" in proc.stdout
    )
    xml = junit.read_text()
    assert 'name="lakeprobe.status" value="warn"' in xml
    assert 'name="lakeprobe.error_class" value="checksum_unsupported"' in xml
