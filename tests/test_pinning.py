"""`--per-address` without a lab: the address-family library answers name lookups of its family only (IPv4
in an IPv4-mapped IPv6 address counts as IPv4), a machine that cannot build it refuses the option in one
line before anything runs, and records of a chain forced to a family have rows and identities of their own.
On the lab, tests/test_dual_stack.py runs the chain per family with faults of one family."""

import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from lakeprobe import pinning, report
from lakeprobe.errors import ProbeError
from lakeprobe.records import Record
from tests.helpers import PYTHON, file_lake, one_line_error, run_pytest, user_env

LOOKUP = """
import socket, sys
for host, family in (("127.0.0.1", 0), ("::1", 0), ("::ffff:127.0.0.1", socket.AF_INET6)):
    try:
        socket.getaddrinfo(host, 443, family=family, type=socket.SOCK_STREAM)
        print(host, "found")
    except socket.gaierror:
        print(host, "none")
"""


@pytest.fixture
def built(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return pinning.library()


@pytest.mark.parametrize(
    "family, found",
    [
        ("ipv4", {"127.0.0.1": "found", "::1": "none", "::ffff:127.0.0.1": "found"}),
        ("ipv6", {"127.0.0.1": "none", "::1": "found", "::ffff:127.0.0.1": "none"}),
        ("", {"127.0.0.1": "found", "::1": "found", "::ffff:127.0.0.1": "found"}),
    ],
)
def test_the_library_answers_the_addresses_of_its_family_only(family, found, built):
    env = user_env(LD_PRELOAD=str(built), LAKEPROBE_ADDRESS_FAMILY=family)
    done = subprocess.run([PYTHON, "-c", LOOKUP], env=env, capture_output=True, text=True, timeout=60)
    assert dict(line.rsplit(" ", 1) for line in done.stdout.splitlines()) == found, done.stderr


def test_the_library_is_built_once_per_version_of_its_source(built):
    made = built.stat().st_mtime_ns
    assert pinning.library() == built and built.stat().st_mtime_ns == made
    assert hashlib.sha256(pinning.SOURCE.read_bytes()).hexdigest()[:12] in built.name  # a new source, a new build


def test_per_address_without_a_compiler_is_one_line_before_anything_runs(tmp_path, run_pytest_here):
    lake = file_lake(tmp_path)
    env = user_env(CC="/no/such/cc", XDG_CACHE_HOME=str(tmp_path / "empty-cache"))
    proc = run_pytest_here(
        "suites/site", "--inventory", str(lake), "--results-dir", str(tmp_path / "r"), "--per-address", env=env
    )
    assert proc.returncode == 4
    assert "--per-address needs a C compiler (cc)" in one_line_error(proc)
    assert not list((tmp_path / "r").glob("*.jsonl"))


def test_per_address_leaves_a_lake_of_local_directories_as_it_is(tmp_path):
    """file:// is not reached over the network: no family to force, the chain runs once."""
    lake = file_lake(tmp_path)
    results = tmp_path / "r"
    proc = run_pytest(
        "suites/site", "--inventory", str(lake), "--results-dir", str(results), "--per-address", env=user_env()
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    records = [json.loads(line) for f in results.glob("*.jsonl") for line in f.read_text().splitlines()]
    assert records and not [r for r in records if r["family"]]
    assert {r["status"] for r in records} <= {"pass", "skip"}


def test_a_forced_familys_records_have_rows_and_identities_of_their_own():
    def made(check, family=""):
        return Record(run_id="r1", suite="site", check=check, rse="XRD1", protocol="davs", family=family)

    chain = [made("upload"), made("upload", "ipv4"), made("upload", "ipv6")]
    assert [r.grid_row for r in chain] == [("XRD1", "davs"), ("XRD1", "davs/ipv4"), ("XRD1", "davs/ipv6")]
    assert len({r.key for r in chain}) == 3
    # The connection checks of one family name it already: their rows and identities are as they were.
    family_check = made("connection_ipv6", "ipv6")
    assert family_check.grid_row == ("XRD1", "davs") and family_check.key == "r1|site|connection_ipv6|XRD1|davs||"


def test_the_status_page_shows_a_forced_family_in_a_row_of_its_own():
    now = time.time()
    records = [
        Record(
            run_id="r1",
            suite="site",
            check=check,
            rse="XRD2",
            protocol="davs",
            family=family,
            status="fail" if (family, check) == ("ipv6", "connection") else "pass",
            error_class="unreachable" if (family, check) == ("ipv6", "connection") else "",
            ts=now,
        )
        for family in ("", "ipv4", "ipv6")
        for check in ("connection", "mkdir")
    ]
    page = report.render([records], "lake", [], now, 3600)
    rows = dict(re.findall(r"<tr><th>(XRD2 davs[^<]*)</th>(.*?)</tr>", page))
    assert set(rows) == {"XRD2 davs", "XRD2 davs/ipv4", "XRD2 davs/ipv6"}
    assert re.findall(r'data-status="(\w+)"', rows["XRD2 davs/ipv6"]) == ["fail", "pass"]
    assert set(re.findall(r'data-status="(\w+)"', rows["XRD2 davs"] + rows["XRD2 davs/ipv4"])) == {"pass"}
    assert "<td>XRD2 davs/ipv6 </td><td>connection</td><td>fail</td>" in page  # the finding names the family


ROUTES = """
import json, sys
from lakeprobe import preflight
from lakeprobe.inventory import load_yaml
rse = load_yaml(sys.argv[1]).rses["SITE"]
family = lambda address: "ipv6" if ":" in address else "ipv4"
print(json.dumps({a: preflight.connect_family(rse, "davs", family(a), a, 3) for a in sys.argv[2:]}))
"""


def test_a_family_this_probe_host_has_no_route_for_is_skip_not_the_sites_failure(tmp_path):
    """In a network namespace of its own with loopback only (a CI runner without IPv6 is like it for IPv6):
    addresses it has no route to are not tried, and not blamed on the site; one it has a route to is."""
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs network namespaces (unshare -n)")
    lake = tmp_path / "lake.yaml"
    lake.write_text("rses:\n  SITE:\n    protocols: {davs: 'davs://se.example.org:8443/'}\n    prefix: /lakeprobe\n")
    script = f"ip link set lo up && {PYTHON} -c '{ROUTES}' {lake} 2001:db8::1 192.0.2.1 ::1"
    done = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    found = json.loads(done.stdout)
    for unrouted, label in (("2001:db8::1", "IPv6"), ("192.0.2.1", "IPv4")):
        assert (found[unrouted]["status"], found[unrouted]["blame"]) == ("skip", "")
        assert f"this probe host has no route to {label} {unrouted}" in found[unrouted]["message"]
    assert (found["::1"]["status"], found["::1"]["error_class"]) == ("fail", "unreachable")  # routed: tried


def test_an_agent_holds_no_secret_of_the_run_and_its_files_go_with_it(built, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEPROBE_SQL_PASSWORD", "not-for-agents-1")
    monkeypatch.setenv("LAKEPROBE_CHAT_WEBHOOK", "https://hooks.example.org/not-for-agents-2")
    monkeypatch.setenv("SOME_NEW_SINK_PASSWORD", "not-for-agents-3")  # no one told lakeprobe about this one
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.dat").write_text("x")
    agent = pinning.Agent("ipv4")
    try:
        assert agent.call("file", "listdir", (f"file://{tmp_path}/data", None, 5), 10) == ["a.dat"]
        environ = Path(f"/proc/{agent.process.pid}/environ").read_bytes().decode()
        assert "not-for-agents" not in environ and "LAKEPROBE_ADDRESS_FAMILY=ipv4" in environ
    finally:
        agent.end()
    assert not agent.alive() and not os.path.exists(agent.tmp)


def test_an_agent_that_died_is_lakeprobes_error_and_is_replaced(built, tmp_path):
    (tmp_path / "data").mkdir()
    url = f"file://{tmp_path}/data"
    pool = pinning.Pool()
    try:
        assert pool.call("ipv6", "file", "listdir", (url, None, 5), 5) == []
        (first,) = pool.live
        first.process.kill()
        first.process.wait()
        assert pool.call("ipv6", "file", "listdir", (url, None, 5), 5) == []  # a new agent took the call
        (second,) = pool.live
        assert second is not first
        second.process.kill()
        second.process.wait()
        with pytest.raises(ProbeError) as ended:
            second.call("file", "listdir", (url, None, 5), 5)
        assert ended.value.blame == "lakeprobe" and "client process ended" in str(ended.value)
    finally:
        pool.close()
