"""suites/credentials' X.509 checks against the test lab's RSEs, whose https takes VOMS proxies of the lab VO
(lab/voms.py: made with voms-proxy-fake, signed by a lab VOMS host certificate): healthy, with an RSE that
grants the probe area to another VO it trusts, with one whose https takes no VOMS attributes, and with
proxies the inventory does not give. No byte of a proxy reaches any output."""

import base64
import re

import pytest
import yaml

from lab.voms import PROXIES

pytestmark = pytest.mark.lab

CHECKS = ("x509_chain", "x509_expired", "x509_no_voms", "x509_other_vo")
RSES = ("XRD1", "XRD2", "XRD3")
FAULTY = "XRD2"


def _round(run_suite, *args, **kwargs):
    proc, records, _ = run_suite("--timeout", "30", *args, suite="suites/credentials", **kwargs)
    return proc, {(r.rse, r.check): r for r in records}


def _findings(records: dict) -> dict:
    return {key: r.error_class for key, r in records.items() if r.status in ("fail", "error")}


def test_a_healthy_lab_takes_the_vo_proxy_and_refuses_the_others(run_suite, lab):
    proc, records = _round(run_suite)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(records) == {(rse, c) for rse in RSES for c in CHECKS}
    assert {r.protocol for r in records.values()} == {"davs"}  # X.509 over https only
    assert all(r.status == "pass" for r in records.values())
    assert "refused in the TLS handshake" in records[("XRD1", "x509_expired")].message
    assert "HTTP 403" in records[("XRD1", "x509_other_vo")].message
    assert re.search(r"XRD1 davs +\.\.\.\.", proc.stdout)  # a column of its own in the summary
    _no_proxy_bytes(lab, proc.stdout + proc.stderr)


@pytest.mark.parametrize(
    "kind, expected",
    [
        # The authdb grants the probe area to another VO the storage trusts too.
        ("x509-other-vo", {(FAULTY, "x509_other_vo"): "security"}),
        # https takes no VOMS attributes: the VO's own proxy is refused, and what needs it is not tried.
        ("x509-off", {(FAULTY, "x509_chain"): "auth_denied"}),
    ],
)
def test_each_fault_fails_its_check_on_its_rse_only(kind, expected, faulty, run_suite):
    faulty(FAULTY, kind)
    proc, records = _round(run_suite)
    assert proc.returncode == 1
    assert _findings(records) == expected, proc.stdout[-3000:]
    assert all(r.status == "pass" for (rse, _), r in records.items() if rse != FAULTY)
    if kind == "x509-off":
        assert {r.status for (rse, c), r in records.items() if rse == FAULTY and c != "x509_chain"} == {"skip"}
        assert "libXrdHttpVOMS" in records[(FAULTY, "x509_chain")].hint
    else:
        assert "g /<vo>" in records[(FAULTY, "x509_other_vo")].hint


def test_a_proxy_the_inventory_does_not_give_skips_its_check(run_suite, lab, tmp_path):
    data = yaml.safe_load(lab.layout.inventory.read_text())
    del data["x509"]["other_vo_proxy"]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data))
    proc, records = _round(run_suite, "--rse", "XRD1", inventory=inventory)
    assert proc.returncode == 0, proc.stdout[-3000:]
    other = records[("XRD1", "x509_other_vo")]
    assert other.status == "skip" and "x509.other_vo_proxy" in other.message


def _no_proxy_bytes(lab, output: str):
    """Neither a proxy's key nor its certificates, PEM or their base64 body, are anywhere in the output."""
    for name in PROXIES:
        pem = lab.x509.proxy(name).read_text()
        assert "PRIVATE KEY" not in output and "BEGIN CERTIFICATE" not in output
        for block in re.findall(r"-----BEGIN [^-]+-----\n(.*?)-----END", pem, re.S):
            body = block.replace("\n", "")
            assert body[:40] not in output and base64.b64decode(body)[:32].hex() not in output
