"""Every address family of an endpoint, probed on its own: the lab named by a host name with an IPv4 and an
IPv6 address; `ipv6-off` or `ipv4-off` on one RSE fails exactly that RSE's records of that family, with the
family named; a host with one family is no finding unless the RSE requires dual stack."""

import os
from pathlib import Path

import pytest
import yaml

from lab.hosts import DUAL_STACK_HOST
from lakeprobe import availability, trust
from lakeprobe.errors import ProbeFailure
from lakeprobe.inventory import load_yaml
from lakeprobe.storage import Storage
from lakeprobe.tokens import TokenProvider
from tests.helpers import left_in_tmp
from tests.proxy import Proxy

pytestmark = pytest.mark.lab

FAULTY = "XRD2"


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


# -- --per-address: the whole chain once per family ----------------------------------------------------
PER_ADDRESS = ("--per-address", "--timeout", "20")
CHAIN_MODULE = "suites/site/test_storage.py"


def _pinned(records) -> dict:
    """(rse, protocol, family, check) -> record, for the chains forced to one family."""
    return {(r.rse, r.protocol, r.pinned_family, r.check): r for r in records if r.pinned_family}


def _helpers_running() -> list[str]:
    """--per-address helper processes on this machine, but this test process's own."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        if "lakeprobe.pinning" in command and parent != os.getpid():
            found.append(f"{proc.name}: {command}")
    return found


def _logins(lab, family: str) -> int:
    """The probe's root:// logins over `family` the lab's storages logged (XRootD names each one's family)."""
    label = {"ipv4": "IPv4", "ipv6": "IPv6"}[family]
    return sum(f"pvt {label} " in line for rse in lab.rses() for line in rse.log_file.read_text().splitlines())


def test_per_address_runs_the_chain_over_each_family_all_passing(lab, dual_stack_lake, run_suite):
    before = {f: _logins(lab, f) for f in ("ipv4", "ipv6")}
    proc, records, _ = run_suite("--inventory", dual_stack_lake, *PER_ADDRESS, suite=CHAIN_MODULE)
    assert proc.returncode == 0, proc.stdout[-3000:]
    pinned = _pinned(records)
    endpoints = [(f"XRD{i}", p) for i in (1, 2, 3) for p in ("davs", "root")]
    assert set(pinned) == {(*e, f, c) for e in endpoints for f in ("ipv4", "ipv6") for c in availability.CHAIN}
    assert {r.status for r in pinned.values()} == {"pass"}
    assert {r.address for k, r in pinned.items() if k[2:] == ("ipv6", "connection")} == {"::1"}
    assert {r.address for k, r in pinned.items() if k[2:] == ("ipv4", "connection")} == {"127.0.0.1"}
    # The chain at the resolver's choice runs as before; the families' connections are their chains' first step.
    assert {(r.rse, r.protocol) for r in records if r.check == "connection" and not r.family} == set(endpoints)
    assert not [r for r in records if r.check.startswith("connection_")]
    # The storages saw the probe over each family (XRootD logs root:// logins with theirs).
    assert all(_logins(lab, f) > before[f] for f in before), before
    assert "XRD1 davs/ipv6" in proc.stdout and "XRD1 root/ipv4" in proc.stdout  # rows of their own


@pytest.mark.parametrize("fault, broken, working", [("ipv6-off", "ipv6", "ipv4"), ("ipv4-off", "ipv4", "ipv6")])
def test_per_address_one_family_off_fails_that_familys_chain_of_that_rse_only(
    fault, broken, working, faulty, dual_stack_lake, run_suite
):
    faulty(FAULTY, fault)
    proc, records, _ = run_suite("--inventory", dual_stack_lake, *PER_ADDRESS, suite=CHAIN_MODULE)
    pinned = _pinned(records)
    label = {"ipv4": "IPv4", "ipv6": "IPv6"}[broken]
    for protocol in ("davs", "root"):
        chain = {c: pinned[(FAULTY, protocol, broken, c)] for c in availability.CHAIN}
        assert (chain["connection"].status, chain["connection"].error_class) == ("fail", "unreachable")
        assert f"over {label}" in chain["connection"].message
        rest = [r for c, r in chain.items() if c != "connection"]
        assert {r.status for r in rest} == {"skip"} and all(label in r.message for r in rest), proc.stdout[-3000:]
        assert {pinned[(FAULTY, protocol, working, c)].status for c in availability.CHAIN} == {"pass"}
    assert {r.status for k, r in pinned.items() if k[0] != FAULTY} == {"pass"}
    assert all(r.blame == FAULTY for r in records if r.is_finding)


@pytest.mark.parametrize("fault, broken, working", [("ipv6-off", "ipv6", "ipv4"), ("ipv4-off", "ipv4", "ipv6")])
def test_a_pinned_call_goes_over_its_family_and_no_other(fault, broken, working, faulty, dual_stack_lake, monkeypatch):
    """The data path itself, not the preflight: a listing forced to the refused family fails, the other works."""
    for name in ("X509_CERT_DIR", "SSL_CERT_FILE", "SSL_CERT_DIR"):  # trust the lab, for this test only
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    inventory = load_yaml(dual_stack_lake)
    trust.trust_ca_dir(inventory.ca_dir)
    rse = inventory.rses[FAULTY]
    storage = Storage(TokenProvider.for_lake(inventory), 20, inventory.rses.values())
    faulty(FAULTY, fault)
    for protocol in ("davs", "root"):
        url = rse.url(protocol, rse.prefix)
        assert storage.pinned(working).listdir(url) is not None
        with pytest.raises(ProbeFailure) as refused:
            storage.pinned(broken).listdir(url)
        assert refused.value.error_class in ("unreachable", "tls"), str(refused.value)


def test_per_address_a_family_that_stalls_costs_one_deadline_and_the_other_family_passes(
    lab, lab_env, tmp_path, run_suite
):
    """XRD1's davs at a port where IPv4 reaches the storage and IPv6 stalls once a transfer is under way (two
    real proxies on one port number, one per family)."""
    target = lab.rse("XRD1").https_port
    works = Proxy(target, listen=("127.0.0.1", 0))
    stalls = Proxy(target, stall_after=300_000, listen=("::1", works.port))
    data = yaml.safe_load(lab.layout.inventory.read_text())
    data["rses"] = {"XRD1": data["rses"]["XRD1"]}
    data.pop("caches", None)
    data["rses"]["XRD1"]["protocols"] = {"davs": f"davs://{DUAL_STACK_HOST}:{works.port}/"}
    lake = tmp_path / "stall.yaml"
    lake.write_text(yaml.safe_dump(data))
    try:
        with left_in_tmp(lab_env) as (left, env):
            proc, records, seconds = run_suite(
                "--inventory", str(lake), "--per-address", "--timeout", "8", suite=CHAIN_MODULE, env=env
            )
    finally:
        works.close()
        stalls.close()
    # The run left at once (a call abandoned), its helpers and their token files ended first.
    assert left == [] and not _helpers_running(), left
    pinned = _pinned(records)
    assert {pinned[("XRD1", "davs", "ipv4", c)].status for c in availability.CHAIN} == {"pass"}, proc.stdout[-3000:]
    # Over IPv6 the first step that moves enough bytes stalls (which one: the proxy counts the bytes of both
    # chains that go through it, this one's and the resolver's choice's); every step after it is skipped.
    ipv6 = [pinned[("XRD1", "davs", "ipv6", c)] for c in availability.CHAIN]
    failed = [r for r in ipv6 if r.status != "pass"][0]
    assert (failed.status, failed.error_class) == ("fail", "timeout"), proc.stdout[-3000:]
    after = ipv6[ipv6.index(failed) + 1 :]
    assert after and {r.status for r in after} == {"skip"}
    # The stall costs one deadline per chain that meets it, not one per step.
    assert seconds < 3 * 8 + 30, seconds
