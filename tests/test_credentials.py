"""suites/credentials against the test lab's RSEs, whose https and root:// (gsi) take VOMS proxies of the lab
VO (lab/voms.py: made with voms-proxy-fake, signed by a lab VOMS host certificate) and whose https issues
macaroons (libXrdMacaroons): healthy, with an RSE that grants the probe area to another VO it trusts, one
that maps any proxy of the user's DN to a user the area is granted to, one that takes no VOMS attributes,
one with no macaroon service, one that issues macaroons but does not take them (its macaroon copies fail),
and with proxies the inventory does not give. No byte of a proxy, and no macaroon, reaches any output."""

import base64
import re

import pytest
import yaml

from lab.voms import PROXIES
from tests.helpers import lakeprobe_cli

pytestmark = pytest.mark.lab

X509_CHECKS = ("x509_chain", "x509_expired", "x509_no_voms", "x509_other_vo")
CHECKS = (*X509_CHECKS, "macaroon_issue", "macaroon_read", "macaroon_caveats")
MACAROON = re.compile(r"MDA[A-Za-z0-9+/_-]{20,}")  # a v1 macaroon's base64 ("0019location ...")
RSES = ("XRD1", "XRD2", "XRD3")
FAULTY = "XRD2"
DAVS, ROOT = f"{FAULTY} davs", f"{FAULTY} root"
ENDPOINTS = {(f"{rse} davs", c) for rse in RSES for c in CHECKS} | {
    (f"{rse} root", c) for rse in RSES for c in X509_CHECKS
}
COPIES = {(f"{a}>{b}", f"davs_{mode}_macaroon") for a in RSES for b in RSES if a != b for mode in ("pull", "push")}
# The macaroon copies whose other end, the one given a macaroon it issued, is the faulty RSE.
GIVEN_FAULTYS = {(f"{FAULTY}>{b}", "davs_pull_macaroon") for b in RSES if b != FAULTY} | {
    (f"{a}>{FAULTY}", "davs_push_macaroon") for a in RSES if a != FAULTY
}


def _round(run_suite, *args, **kwargs):
    """The round's records by ("RSE protocol", check); a copy's by ("SOURCE>DESTINATION", check)."""
    proc, records, _ = run_suite("--timeout", "30", *args, suite="suites/credentials", **kwargs)
    return proc, {(f"{r.rse}>{r.peer}" if r.peer else f"{r.rse} {r.protocol}", r.check): r for r in records}


def _findings(records: dict) -> dict:
    return {key: r.error_class for key, r in records.items() if r.status in ("fail", "error")}


def test_a_healthy_lab_takes_the_vo_proxy_and_refuses_the_others(run_suite, lab):
    proc, records = _round(run_suite)
    written = len(ENDPOINTS) + len(COPIES)
    assert f"influxdb-v1 {lab.layout.influxdb_url} lakeprobe: {written} records written" in proc.stdout
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(records) == ENDPOINTS | COPIES
    # XrdCl sends no expired proxy: over root:// that check cannot be made, and says so.
    assert {key for key, r in records.items() if r.status != "pass"} == {(f"{r} root", "x509_expired") for r in RSES}
    assert "XrdCl sends no expired proxy" in records[("XRD1 root", "x509_expired")].message
    assert "refused in the TLS handshake" in records[("XRD1 davs", "x509_expired")].message
    assert "HTTP 403" in records[("XRD1 davs", "x509_other_vo")].message
    assert "permission denied" in records[("XRD1 root", "x509_other_vo")].message
    assert "to the probe's VOMS proxy" in records[("XRD1 davs", "macaroon_issue")].message
    assert "asked for with no credential reads nothing" in records[("XRD1 davs", "macaroon_caveats")].message
    assert "with XRD1's DOWNLOAD,LIST macaroon" in records[("XRD1>XRD2", "davs_pull_macaroon")].message
    assert "with XRD2's UPLOAD,DELETE,LIST macaroon" in records[("XRD1>XRD2", "davs_push_macaroon")].message
    assert re.search(r"XRD1 davs +\.\.\. +\.\.\.\.", proc.stdout)  # a column of each in the summary
    assert re.search(r"XRD1 root +- +\.s\.\.", proc.stdout)
    output = proc.stdout + proc.stderr + repr(list(records.values()))
    _no_proxy_bytes(lab, output)
    assert not MACAROON.search(output)


@pytest.mark.parametrize(
    "kind, expected",
    [
        # The authdb grants the probe area to another VO the storage trusts too.
        ("x509-other-vo", {(DAVS, "x509_other_vo"): "security", (ROOT, "x509_other_vo"): "security"}),
        # A grid-mapfile maps the user's DN to a user the authdb grants the area: any proxy of it writes. So
        # does a DOWNLOAD macaroon it issued to that user: XrdMacaroons hands what its activities do not
        # allow on to the authdb, with the macaroon's identity, and the authdb lets it delete.
        (
            "x509-any-proxy",
            {(e, c): "security" for e in (DAVS, ROOT) for c in ("x509_no_voms", "x509_other_vo")}
            | {(DAVS, "macaroon_caveats"): "security"},
        ),
        # https takes no VOMS attributes: the VO's own proxy is refused, and what needs it is not tried; a
        # macaroon asked for with the proxy holds an identity with no groups, and reads or writes nothing.
        (
            "x509-off",
            {(DAVS, "x509_chain"): "auth_denied", (ROOT, "x509_chain"): "auth_denied"}
            | {(DAVS, "macaroon_read"): "auth_denied"}
            | dict.fromkeys(GIVEN_FAULTYS, "auth_denied"),
        ),
        # No macaroon service: the request is a POST XrdHttp does not take; copies that need one skip.
        ("macaroons-off", {(DAVS, "macaroon_issue"): "protocol_error"}),
        # Issued, but no authorization library takes them: the storage's own macaroon reads nothing, and the
        # copies that give it one fail.
        (
            "macaroons-not-taken",
            {(DAVS, "macaroon_read"): "auth_denied"} | dict.fromkeys(GIVEN_FAULTYS, "auth_denied"),
        ),
    ],
)
def test_each_fault_fails_its_check_on_its_rse_only(kind, expected, faulty, run_suite, lab_env, tmp_path):
    faulty(FAULTY, kind)
    proc, records = _round(run_suite, results=tmp_path)
    assert proc.returncode == 1
    assert _findings(records) == expected, proc.stdout[-3000:]
    others = [r for (where, c), r in records.items() if FAULTY not in re.split("[> ]", where)]
    assert all(r.status == "pass" or r.check == "x509_expired" and r.protocol == "root" for r in others)
    assert all(records[key].blame == FAULTY for key in expected)
    if kind == "x509-off":
        untried = {(where, c) for (where, c), r in records.items() if FAULTY in where and r.status == "skip"}
        x509_refusals = {(e, c) for e in (DAVS, ROOT) for c in ("x509_expired", "x509_no_voms", "x509_other_vo")}
        assert untried == x509_refusals | {(DAVS, "macaroon_caveats")}
        assert "libXrdHttpVOMS" in records[(DAVS, "x509_chain")].hint
    elif kind in ("x509-other-vo", "x509-any-proxy"):
        assert "g /<vo>" in records[(DAVS, "x509_other_vo")].hint
    elif kind == "macaroons-off":
        untried = {key for key, r in records.items() if r.status == "skip" and key[1] != "x509_expired"}
        assert untried == {(DAVS, "macaroon_read"), (DAVS, "macaroon_caveats")} | GIVEN_FAULTYS
        assert "libXrdMacaroons" in records[(DAVS, "macaroon_issue")].hint
    else:
        assert "ofs.authlib ++ libXrdMacaroons.so" in records[(DAVS, "macaroon_read")].hint
        pull = records[(f"{FAULTY}>XRD1", "davs_pull_macaroon")]
        assert pull.hint.startswith(f"{FAULTY} refuses its own DOWNLOAD macaroon")
    made = lakeprobe_cli("report", "--results-dir", str(tmp_path), env=lab_env)
    assert made.returncode == 0, made.stderr
    page = (tmp_path / "status.html").read_text()  # a table of its own, and the storage not green
    grid = page[page.index('<table id="credentials-grid">') :].split("</table>", 1)[0]
    assert grid.count(f'data-rse="{FAULTY}"') == 2 * len(CHECKS) and 'class="fail"' in grid  # a row per protocol
    assert 'class="fail" data-status="fail" data-component="storage"' in page  # a hole in the storage is red
    assert 'data-mode="pull_macaroon"' in page  # the macaroon copies are columns of the TPC matrix


def test_a_proxy_the_inventory_does_not_give_skips_its_check(run_suite, lab, tmp_path):
    data = yaml.safe_load(lab.layout.inventory.read_text())
    del data["x509"]["other_vo_proxy"]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data))
    proc, records = _round(run_suite, "--rse", "XRD1", inventory=inventory)
    assert proc.returncode == 0, proc.stdout[-3000:]
    other = records[("XRD1 davs", "x509_other_vo")]
    assert other.status == "skip" and "x509.other_vo_proxy" in other.message


def _no_proxy_bytes(lab, output: str):
    """Neither a proxy's key nor its certificates, PEM or their base64 body, are anywhere in the output."""
    for name in PROXIES:
        pem = lab.x509.proxy(name).read_text()
        assert "PRIVATE KEY" not in output and "BEGIN CERTIFICATE" not in output
        for block in re.findall(r"-----BEGIN [^-]+-----\n(.*?)-----END", pem, re.S):
            body = block.replace("\n", "")
            assert body[:40] not in output and base64.b64decode(body)[:32].hex() not in output


def test_an_expired_probe_proxy_is_lakeprobes_error_not_the_sites(run_suite, lab, tmp_path):
    data = yaml.safe_load(lab.layout.inventory.read_text())
    data["x509"]["proxy"] = data["x509"]["expired_proxy"]  # a renewal that did not happen
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data))
    proc, records = _round(run_suite, "--rse", "XRD1", "-k", "x509_chain or macaroon_issue", inventory=inventory)
    assert proc.returncode == 1, proc.stdout[-3000:]
    needing = {("XRD1 davs", "x509_chain"), ("XRD1 root", "x509_chain"), ("XRD1 davs", "macaroon_issue")}
    assert {key for key, r in records.items() if r.status == "error"} == needing
    for key in needing:
        assert records[key].blame == "lakeprobe" and "renew it (voms-proxy-init)" in records[key].message
