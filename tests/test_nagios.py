"""`lakeprobe nagios` against the lab as Nagios or Icinga would run it: every fault kind gives the documented
exit code and status line, a healthy RSE is OK with performance data, and what is not the site's failure
(a user's mistake, a broken service, a run out of time) is UNKNOWN, never CRITICAL."""

import os
import re
import signal
import subprocess
import time

import pytest
import yaml

from lakeprobe.nagios import Result, judge
from lakeprobe.records import Record
from tests.helpers import LAKEPROBE, lakeprobe_cli

pytestmark = pytest.mark.lab

RSE = "XRD2"
PERFDATA = re.compile(r"^[\w.-]+=\d+(\.\d+)?s?;;;0$")

# fault -> (exit code, what the status line says after "LAKEPROBE <STATE> - XRD2 davs,root: <counts>: ").
EXPECTED = {
    "down": (2, "connection davs unreachable, connection root unreachable"),
    "hang": (2, "connection davs timeout, connection root timeout"),
    "expired-cert": (2, "connection davs tls, connection root tls"),
    "ipv4-off": (2, "connection davs unreachable, connection root unreachable"),
    "readonly": (2, "davs_pull XRD1->XRD2 permission, davs_push XRD1->XRD2 permission, root_tpc XRD1->XRD2"),
    "full": (2, "davs_pull XRD1->XRD2 no_space, davs_push XRD1->XRD2 protocol_error, root_tpc XRD1->XRD2"),
    "corrupt": (2, "davs_pull XRD1->XRD2 checksum_mismatch, davs_push XRD1->XRD2 checksum_mismatch, root_tpc"),
    "tpc-off": (2, "root_tpc XRD1->XRD2 protocol_error, root_tpc XRD2->XRD1 protocol_error"),
    "no-auth": (2, "create_scope davs security, create_scope_boundary davs security"),
    "passthrough-read": (2, "create_without_read davs security, expired_token davs security"),
    "passthrough-all": (2, "create_scope davs security, create_without_read davs security"),
    "scope-prefix": (2, "create_scope_boundary davs security, path_scope_boundary davs security"),
    "single-audience": (2, "several_audiences davs auth_denied, several_audiences root auth_denied"),
    "trailing-slash": (2, "path_scope_trailing_slash davs auth_denied, path_scope_trailing_slash root auth_denied"),
    "two-base-paths": (2, "path_scope_from_root davs security, path_scope_from_root root security"),
    "no-groups": (2, "group_access davs auth_denied, group_access root auth_denied"),
    # A firewall between the two sites: the copies fail and which end is to blame is not known (the root://
    # one too, though XRootD says "connection refused: (source)": that is where it pointed).
    "no-route-to-XRD1": (
        1,
        "davs_pull XRD1->XRD2 unreachable, root_tpc XRD1->XRD2 unreachable, davs_push XRD2->XRD1 unreachable",
    ),
}
STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


@pytest.fixture
def nagios(lab, lab_env, tmp_path):
    def check(*args, rse=RSE):
        where = ["--rse", rse] if rse else []
        argv = ["nagios", *where, "--inventory", str(lab.layout.inventory), "--results-dir", str(tmp_path), *args]
        proc = lakeprobe_cli(*argv, env=lab_env)
        assert not proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-2000:]
        return proc.returncode, proc.stdout.splitlines()

    return check


def _status_line(line: str) -> tuple[str, list[str]]:
    text, _, perf = line.partition(" | ")
    return text, perf.split()


def test_a_healthy_rse_is_ok_with_a_duration_per_check(nagios, tmp_path):
    code, out = nagios("--tpc-peer", "XRD1")
    text, perf = _status_line(out[0])
    assert (code, text) == (0, "LAKEPROBE OK - XRD2 davs,root: 68 checks pass"), out
    assert len(out) == 1  # no findings: no long output
    assert all(PERFDATA.match(p) for p in perf), perf
    labels = {p.split("=")[0] for p in perf}
    assert {"davs_upload", "root_checksum", "davs_pull_XRD1_XRD2", "root_tpc_XRD2_XRD1", "fail"} <= labels
    assert len(list(tmp_path.glob("*.jsonl"))) == 1  # the check's records are kept, as any run's


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_each_fault_gives_its_exit_code_and_status_line(fault, faulty, nagios):
    faulty(RSE, fault)
    code, out = nagios("--tpc-peer", "XRD1", "--timeout", "15")
    text, _ = _status_line(out[0])
    expected_code, said = EXPECTED[fault]
    assert code == expected_code, out
    assert re.match(rf"LAKEPROBE {STATES[code]} - XRD2 davs,root: [\w ,]+ of \d+ checks: ", text), text
    assert said in text
    assert len(out) > 1 and all(len(line) <= 300 and "|" not in line for line in out[1:])  # the findings


def test_a_slow_rse_warns(faulty, nagios):
    faulty(RSE, "slow")
    code, out = nagios("--tpc-peer", "XRD1", "--protocol", "davs", "--timeout", "30", "--file-size", "128k")
    assert (code, _status_line(out[0])[0]) == (
        1,
        "LAKEPROBE WARNING - XRD2 davs: 1 warn, 34 pass of 35 checks: throughput davs slow",
    ), out


def test_a_broken_token_issuer_leaves_the_site_unknown(lab, nagios):
    lab.stop_service("issuer")
    try:
        code, out = nagios("--tpc-peer", "XRD1", "--timeout", "30")
        services_code, services_out = nagios("--suite", "services", "--timeout", "15", rse=None)
    finally:
        lab.issuer.start()
    assert code == 3 and _status_line(out[0])[0].endswith(": not judged, broken: issuer"), out
    assert services_code == 2 and "issuer_discovery https unreachable" in services_out[0], services_out


def test_a_declared_downtime_is_ok_and_says_so(lab, nagios, tmp_path):
    data = yaml.safe_load(lab.layout.inventory.read_text())
    data["rses"][RSE]["downtime"] = "disk server replacement"
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data))
    code, out = nagios("--inventory", str(inventory), "--tpc-peer", "XRD1")
    assert code == 0 and " - XRD2 davs,root: in declared downtime, " in out[0], out


@pytest.mark.parametrize(
    "args, said",
    [
        (("--rse", "NOPE"), "LAKEPROBE UNKNOWN - NOPE: unknown RSE NOPE; known: XRD1, XRD2, XRD3"),
        (("--timeout", "-3"), "LAKEPROBE UNKNOWN - argument --timeout: must be a number of seconds above 0"),
        (("--suite", "nope"), "LAKEPROBE UNKNOWN - no suite 'nope': one of site, services, rucio"),
        (("--protocol", "gsiftp"), "LAKEPROBE UNKNOWN - XRD2: "),
        (("--suite", "rucio", "--rse", ""), "LAKEPROBE UNKNOWN - the rucio suite checks one RSE: give --rse"),
        (("--rse", "XRD2", "--bogus"), "LAKEPROBE UNKNOWN - unrecognized arguments: --bogus"),
        (("--suite", "services", "--rse", "XRD2"), "LAKEPROBE UNKNOWN - the services suite checks the lake's services"),
    ],
)
def test_a_users_mistake_is_unknown_with_one_line(args, said, nagios):
    code, out = nagios(*args, rse=None if "--rse" in args else RSE)
    assert code == 3 and out[0].startswith(said) and len(out) == 1, out


def test_a_check_out_of_time_is_unknown_within_its_deadline(faulty, nagios):
    faulty(RSE, "hang")
    started = time.monotonic()
    code, out = nagios("--timeout", "30", "-t", "6")
    assert time.monotonic() - started < 6 + 3  # the command's own start-up, at most
    assert (code, out) == (3, ["LAKEPROBE UNKNOWN - XRD2: the check did not end within 6 s (-t)"])


def test_passive_gives_the_external_command_of_the_same_result(nagios):
    code, out = nagios("--tpc-peer", "XRD1", "--protocol", "root", "--passive", "se01.example.org")
    assert code == 0 and len(out) == 1
    assert re.match(
        r"^\[\d{10}\] PROCESS_SERVICE_CHECK_RESULT;se01\.example\.org;lakeprobe-XRD2;0;LAKEPROBE OK - ", out[0]
    )


def test_a_storage_cannot_inject_performance_data_or_lines():
    said = "XRD2 davs upload: fail: evil | hacked=1s\nLAKEPROBE OK"
    out = Result(2, "XRD2: 1 fail: upload davs protocol_error", [said]).output().splitlines()
    assert out == [
        "LAKEPROBE CRITICAL - XRD2: 1 fail: upload davs protocol_error",
        said.replace("|", "/").replace("\n", " "),
    ]


def test_version_and_help_as_the_plugin_guidelines_ask(lab_env):
    version = lakeprobe_cli("nagios", "-V", env=lab_env)
    assert version.returncode == 0 and re.fullmatch(r"lakeprobe nagios \d+\.\d+\.\d+\n", version.stdout)
    usage = lakeprobe_cli("nagios", "--help", env=lab_env)
    assert usage.returncode == 0 and "--plugin-timeout" in usage.stdout and "--passive" in usage.stdout


def test_a_run_that_probed_nothing_is_unknown():
    skipped = [Record(run_id="r", suite="site", check=c, rse=RSE, protocol="davs", status="skip") for c in "ab"]
    result = judge(skipped, RSE, RSE)
    assert (result.state, result.text) == (3, "XRD2 davs: nothing was probed, 2 checks skipped")


def test_a_check_the_monitoring_kills_stops_its_run(lab, lab_env, faulty, tmp_path):
    """Nagios kills a plugin that outlives its service check timeout (SIGKILL): the run it started must not
    go on alone."""
    faulty(RSE, "hang")
    argv = [LAKEPROBE, "nagios", "--rse", RSE, "--inventory", str(lab.layout.inventory), "--timeout", "60",
            "-t", "120", "--results-dir", str(tmp_path)]  # fmt: skip
    plugin = subprocess.Popen(argv, env=lab_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = []
    for _ in range(100):
        time.sleep(0.1)
        run = [p for p in os.listdir("/proc") if p.isdigit() and _is_the_run(p, tmp_path)]
        if run:
            break
    assert run, "the check's pytest run did not start"
    plugin.send_signal(signal.SIGKILL)
    plugin.wait()
    for _ in range(150):
        if not any(os.path.exists(f"/proc/{p}") and _is_the_run(p, tmp_path) for p in run):
            return
        time.sleep(0.1)
    raise AssertionError("the run went on after its plugin was killed")


def _is_the_run(pid: str, results) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except OSError:
        return False
    return b"pytest" in cmdline and str(results).encode() in cmdline
