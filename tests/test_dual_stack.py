"""Every address family of an endpoint, probed on its own: the lab named by a host name with an IPv4 and an
IPv6 address; `ipv6-off` or `ipv4-off` on one RSE fails exactly that RSE's records of that family, with the
family named; a host with one family is no finding unless the RSE requires dual stack."""

import pytest
import yaml

from lab.hosts import DUAL_STACK_HOST

pytestmark = pytest.mark.lab

FAULTY = "XRD2"


@pytest.fixture
def dual_stack_lake(lab, tmp_path):
    data = yaml.safe_load(lab.layout.inventory.read_text())
    for spec in data["rses"].values():
        spec["protocols"] = {p: u.replace("localhost", DUAL_STACK_HOST) for p, u in spec["protocols"].items()}
    path = tmp_path / "dual.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _families(records) -> dict:
    return {
        (r.rse, r.protocol, r.check): (r.status, r.error_class, r.address, r.message)
        for r in records
        if r.check.startswith("connection_")
    }


def test_a_healthy_lake_has_a_record_per_family_all_passing(dual_stack_lake, run_suite):
    proc, records, _ = run_suite("--inventory", dual_stack_lake, "-k", "connection", "--timeout", "10")
    assert proc.returncode == 0, proc.stdout[-3000:]
    found = _families(records)
    assert set(found) == {
        (f"XRD{i}", p, f"connection_{f}") for i in (1, 2, 3) for p in ("davs", "root") for f in ("ipv4", "ipv6")
    }
    assert {v[0] for v in found.values()} == {"pass"}
    assert {v[2] for k, v in found.items() if k[2] == "connection_ipv6"} == {"::1"}
    assert {r.family for r in records if r.check == "connection_ipv4"} == {"ipv4"}


@pytest.mark.parametrize("fault, broken, working", [("ipv6-off", "ipv6", "ipv4"), ("ipv4-off", "ipv4", "ipv6")])
def test_one_family_off_fails_exactly_that_family_of_that_rse(
    fault, broken, working, faulty, dual_stack_lake, run_suite
):
    faulty(FAULTY, fault)
    proc, records, _ = run_suite("--inventory", dual_stack_lake, "-k", "connection", "--timeout", "10")
    found = _families(records)
    failed = {k for k, v in found.items() if v[0] != "pass"}
    assert failed == {(FAULTY, p, f"connection_{broken}") for p in ("davs", "root")}, proc.stdout[-3000:]
    label = {"ipv4": "IPv4", "ipv6": "IPv6"}[broken]
    assert all(
        found[k][1] == "unreachable" and f"over {label}" in found[k][3] and "does not admit clients" in found[k][3]
        for k in failed
    )
    main = {(r.rse, r.protocol): r.status for r in records if r.check == "connection"}
    if broken == "ipv4":
        assert set(main.values()) == {"pass"}  # clients prefer IPv6, which works: nothing else changes
    else:
        # A davs client (davix, curl) stays with the IPv6 address it reached; XrdCl tries the next one.
        assert [k for k, v in main.items() if v != "pass"] == [(FAULTY, "davs")]
    assert all(r.blame == FAULTY for r in records if r.is_finding)


def test_one_family_is_no_finding_unless_dual_stack_is_required(inventory_with, run_suite):
    lake = inventory_with(XRD1={"quirks": {"require_dual_stack": True}})  # the lab's own names: IPv4 only
    proc, records, _ = run_suite("--inventory", lake, "-k", "connection", "--timeout", "10")
    found = _families(records)
    assert {k for k, v in found.items() if v[0] != "pass"} == {
        ("XRD1", "davs", "connection_ipv6"),
        ("XRD1", "root", "connection_ipv6"),
    }
    assert all(found[("XRD1", p, "connection_ipv6")][:2] == ("warn", "unreachable") for p in ("davs", "root"))
    assert "has no IPv6 address: the RSE requires both families" in found[("XRD1", "davs", "connection_ipv6")][3]
    assert not [k for k in found if k[0] != "XRD1" and k[2] == "connection_ipv6"]  # IPv4 alone: no record
