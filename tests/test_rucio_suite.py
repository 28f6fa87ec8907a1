"""suites/rucio against the lab's real Rucio server and daemons: a healthy round passes on every RSE and
protocol and leaves nothing once the daemons have acted; each storage fault shows in the faulty RSE's Rucio
checks with the class suites/site gives it, and nowhere else; Rucio down is Rucio's error, not the
storage's; an RSE unavailable in Rucio or in a GOCDB outage is in downtime; hermes down, a stuck rule and a
file the reaper could not delete are each caught by the check named after them."""

import http.server
import re
import time
from pathlib import Path

import pytest
import yaml

from lakeprobe import report
from tests.helpers import Env, local_http, one_line_error, serving
from tests.proxy import Proxy

pytestmark = pytest.mark.lab

FAULTY = "XRD2"
CHAIN = ["rucio_upload", "rucio_replica", "rucio_download", "rucio_rule"]
# Short, so that a test sees Rucio's daemons act on what a round made; the grace leaves the judge-cleaner
# and the reaper (cycles of 2 s, deleting 10 s after the tombstone) room on a loaded machine. The lifetime
# outlasts a one-RSE round on a loaded machine: the reaper test makes the RSE read-only after its round.
LIFETIME_S, GRACE_S = 20, 30

# fault -> {(check, protocol): error class} of the faulty RSE's Rucio checks (as in suites/site's)
EXPECTED = {
    "down": {("rucio_upload", "davs"): "unreachable", ("rucio_upload", "root"): "unreachable"},
    "hang": {("rucio_upload", "davs"): "timeout", ("rucio_upload", "root"): "timeout"},
    "expired-cert": {("rucio_upload", "davs"): "tls", ("rucio_upload", "root"): "tls"},
    "readonly": {("rucio_upload", "davs"): "permission", ("rucio_upload", "root"): "permission"},
    # XrdHttp drops the connection when a PUT hits ENOSPC: over davs no reason reaches any client.
    "full": {("rucio_upload", "davs"): "protocol_error", ("rucio_upload", "root"): "no_space"},
    "corrupt": {("rucio_upload", "davs"): "checksum_mismatch", ("rucio_upload", "root"): "checksum_mismatch"},
    "no-auth": {},  # token enforcement is suites/site's to judge: through Rucio everything still works
    "tpc-off": {},  # Rucio moves data with FTS, which the lab has not
}


@pytest.fixture(scope="module")
def rucio_lake(lab, tmp_path_factory):
    data = yaml.safe_load(lab.layout.inventory.read_text())
    data["rucio"].update(lifetime_s=LIFETIME_S, deletion_grace_s=GRACE_S)
    path = tmp_path_factory.mktemp("rucio") / "lake.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def rucio_round(run_suite, rucio_lake):
    def run(*args, inventory=None, suite="suites/rucio"):
        return run_suite("--timeout", "10", *args, suite=suite, inventory=inventory or rucio_lake)

    return run


@pytest.fixture(scope="module")
def admin(lab):
    """Rucio's root account, for what a lake's operators would do by hand."""
    return lab.rucio.admin_client()


def _chains(records) -> dict:
    return {(r.rse, r.protocol, r.check): r for r in records if r.check in CHAIN}


def test_a_healthy_round_passes_everywhere_and_leaves_nothing_once_the_daemons_acted(rucio_round, admin, lab):
    proc, records, seconds = rucio_round()
    assert proc.returncode == 0, proc.stdout[-3000:]
    chains = _chains(records)
    assert set(chains) == {(f"XRD{i}", p, c) for i in (1, 2, 3) for p in ("davs", "root") for c in CHAIN}
    assert {r.status for r in chains.values()} == {"pass"}
    transfer = {r.status for r in records if r.check == "rucio_rule_transfer"}
    assert transfer == {"skip"}  # the lab has no FTS
    assert {r.status for r in records if r.check == "rucio_deletion"} == {"pass"}
    upload = next(r for r in records if r.check == "rucio_upload")
    assert upload.bytes == 1024 * 1024 and upload.throughput_Bps > 0
    # The status page has the Rucio suite's grid beside the storage's.
    grid = report.render([records], "lakeprobe-lab", [], time.time(), 7200).split('id="rucio-grid"')[1]
    cells = re.findall(r'data-status="(\w+)"[^>]*data-rse="(\w+)" data-protocol="(\w+)" data-check="(\w+)"', grid)
    assert set(chains) <= {(rse, p, c) for status, rse, p, c in cells if status == "pass"}
    run_id = records[0].run_id
    # The non-deterministic RSE took its files at the path the suite gave.
    nd = [p for p in (lab.layout.run_dir / "rses" / "XRD3" / "data").rglob(f"{run_id}*")]
    assert nd and all("/lakeprobe/" in str(p) for p in nd)

    def leftovers():
        rules = [r for r in admin.list_replication_rules({"account": "lakeprobe"}) if r["name"].startswith(run_id)]
        dids = list(admin.list_dids("lakeprobe", {"name": f"{run_id}*"}, did_type="file"))
        files = [p for rse in ("XRD1", "XRD2", "XRD3") for p in (lab.layout.run_dir / "rses" / rse).rglob(f"{run_id}*")]
        return rules, dids, files

    deadline = time.monotonic() + LIFETIME_S + 60
    while any(leftovers()) and time.monotonic() < deadline:
        time.sleep(2)
    assert leftovers() == ([], [], []), "rules, DIDs or files outlived the round"


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_each_storage_fault_shows_in_its_rses_rucio_checks_with_the_site_suites_class(fault, faulty, rucio_round):
    faulty(FAULTY, fault)
    proc, records, _ = rucio_round("-n", "3")
    failed = {(r.check, r.protocol): r.error_class for r in records if r.status == "fail"}
    assert failed == EXPECTED[fault], proc.stdout[-3000:]
    assert all(r.rse == FAULTY for r in records if r.status in ("fail", "error", "warn"))
    assert {r.blame for r in records if r.is_finding} <= {FAULTY}
    assert all(r.status in ("pass", "skip") for r in records if r.rse != FAULTY)
    behind = [r for r in records if r.rse == FAULTY and r.check in CHAIN[1:] and failed]
    assert all(r.status == "skip" and "rucio_upload failed" in r.message for r in behind)


def test_rucio_down_is_rucios_error_and_blames_no_storage(lab, rucio_round):
    lab.stop_service("rucio")
    try:
        proc, records, seconds = rucio_round("-n", "3", suite="suites")
    finally:
        lab.rucio.start()
    rucio = [r for r in records if r.check.startswith("rucio_") and r.status not in ("skip",)]
    assert rucio and all(r.status in ("error", "fail") for r in rucio)
    assert {r.error_class for r in rucio} == {"unreachable"}
    assert {r.blame for r in rucio} == {"rucio"}
    assert all(r.status == "pass" for r in records if r.suite == "site" and r.status != "skip")
    assert seconds < 120


def test_a_rucio_that_does_not_answer_stops_an_rse_expression_run_at_its_deadline(lab, lab_env, run_suite, tmp_path):
    """--rse-expression lists the RSEs from Rucio under --timeout: a server that takes the connection and
    never answers is one line and exit 4 once it is up, with no record, not a run that waits forever."""
    stalled = Proxy(lab.rucio.port, stall_after=0)
    config, results = tmp_path / "rucio.cfg", tmp_path / "results"
    config.write_text(lab.rucio.client_cfg.read_text().replace(f":{lab.rucio.port}", f":{stalled.port}"))
    try:
        proc, _, seconds = run_suite(
            "--rse-expression", "XRD1", "--timeout", "3", results=results, env=Env(lab_env, RUCIO_CONFIG=str(config))
        )
    finally:
        stalled.close()
    assert proc.returncode == 4, proc.stdout[-2000:]
    assert one_line_error(proc) == "ERROR: cannot list RSEs from Rucio: no answer within 3 s (--timeout)"
    assert seconds < 30 and stalled.connections
    assert not list(results.glob("*.jsonl"))


def test_an_rse_unavailable_in_rucio_is_in_downtime(admin, lab, rucio_round):
    admin.update_rse(FAULTY, {"availability_write": False})
    try:
        proc, records, _ = rucio_round("--rse-expression", "XRD1|XRD2", "-n", "2")
    finally:
        admin.update_rse(FAULTY, {"availability_write": True})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {r.status for r in records if r.rse == FAULTY} == {"downtime"}
    assert {r.status for r in records if r.rse == "XRD1" and r.check in CHAIN} == {"pass"}


def test_an_rse_in_a_gocdb_outage_is_in_downtime(lab, rucio_lake, rucio_round, tmp_path):
    port = lab.rse(FAULTY).https_port
    now = int(time.time())
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<results>
  <DOWNTIME ID="900" PRIMARY_KEY="900G0" CLASSIFICATION="SCHEDULED">
    <PRIMARY_KEY>900G0</PRIMARY_KEY><HOSTNAME>localhost</HOSTNAME><SERVICE_TYPE>webdav</SERVICE_TYPE>
    <ENDPOINT>localhostwebdav</ENDPOINT><HOSTED_BY>LAB-SITE</HOSTED_BY><SEVERITY>OUTAGE</SEVERITY>
    <DESCRIPTION>disk server replacement</DESCRIPTION>
    <START_DATE>{now - 600}</START_DATE><END_DATE>{now + 3600}</END_DATE>
    <AFFECTED_ENDPOINTS><ENDPOINT><URL>davs://localhost:{port}/</URL></ENDPOINT></AFFECTED_ENDPOINTS>
  </DOWNTIME>
</results>""".encode()

    class Feed(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args):
            pass

    with serving(local_http(Feed)) as server:
        data = yaml.safe_load(Path(rucio_lake).read_text())
        data["downtime_feed"] = {"url": f"http://127.0.0.1:{server.server_port}/gocdbpi/public/?method=get_downtime"}
        lake = tmp_path / "lake.yaml"
        lake.write_text(yaml.safe_dump(data))
        proc, records, _ = rucio_round("-n", "2", inventory=str(lake))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {r.status for r in records if r.rse == FAULTY} == {"downtime"}
    assert all("disk server replacement" in r.message for r in records if r.rse == FAULTY)
    assert {r.status for r in records if r.rse != FAULTY and r.check in CHAIN} == {"pass"}


@pytest.mark.parametrize("component, blamed", [("hermes", "hermes"), ("broker", "broker")])
def test_hermes_or_the_broker_down_is_caught_by_rucio_events(component, blamed, lab, rucio_round):
    lab.stop_service(component)
    try:
        proc, records, _ = rucio_round("-n", "2", "--rse", "XRD1", "--protocol", "davs")
    finally:
        lab.up(3)
    events = [r for r in records if r.check == "rucio_events"]
    assert [(r.status, r.blame) for r in events] == [("error", blamed)], proc.stdout[-3000:]
    assert all(r.status in ("pass", "skip") for r in records if r.check != "rucio_events")


def test_a_healthy_broker_hears_every_rule_of_the_round(rucio_round):
    proc, records, _ = rucio_round("-n", "2", "--rse", "XRD1")
    events = [r for r in records if r.check == "rucio_events"]
    assert [r.status for r in events] == ["pass"] and "2 rule_ok events" in events[0].message


def test_a_stuck_rule_is_caught_by_rucio_stuck_rules(admin, lab, rucio_lake, rucio_round, tmp_path):
    proc, records, _ = rucio_round("--rse", "XRD1", "--protocol", "davs", "-k", "upload")
    name = next(r for r in records if r.check == "rucio_upload").run_id + "-XRD1-davs-"
    did = next(d for d in admin.list_dids("lakeprobe", {"name": f"{name}*"}, did_type="file"))
    # A rule of the probe account to another RSE: without FTS it replicates for ever.
    rule = admin.add_replication_rule([{"scope": "lakeprobe", "name": did}], 1, "XRD3", account="lakeprobe")[0]
    data = yaml.safe_load(Path(rucio_lake).read_text())
    data["rucio"]["stuck_after_s"] = 1
    lake = tmp_path / "lake.yaml"
    lake.write_text(yaml.safe_dump(data))
    time.sleep(2)
    try:
        proc, records, _ = rucio_round("-k", "stuck", inventory=str(lake), suite="suites/services")
    finally:
        admin.delete_replication_rule(rule, purge_replicas=True)
    stuck = [r for r in records if r.check == "rucio_stuck_rules"]
    assert [(r.status, r.error_class) for r in stuck] == [("fail", "stuck")], proc.stdout[-3000:]
    assert rule in stuck[0].message and "REPLICATING" in stuck[0].message


def test_a_file_the_reaper_could_not_delete_is_caught_by_rucio_deletion(faulty, lab, rucio_round):
    proc, records, _ = rucio_round("--rse", FAULTY, "--protocol", "davs")
    assert proc.returncode == 0, proc.stdout[-3000:]
    made = next(r for r in records if r.check == "rucio_upload").run_id
    faulty(FAULTY, "readonly")  # the reaper's deletion is refused from now on
    time.sleep(LIFETIME_S + GRACE_S + 5)
    proc, records, _ = rucio_round("-k", "deletion")
    verdicts = {(r.rse, r.protocol): (r.status, r.error_class) for r in records if r.check == "rucio_deletion"}
    assert verdicts.pop((FAULTY, "davs")) == ("fail", "not_deleted"), proc.stdout[-3000:]
    assert set(verdicts.values()) == {("pass", "")}
    message = next(r.message for r in records if r.rse == FAULTY and r.protocol == "davs" and r.status == "fail")
    assert made in message and "reaper" in message
    # Healed, the reaper deletes it at its next try: the check passes again and later rounds start clean.
    lab.heal(FAULTY)
    deadline = time.monotonic() + 60
    while list((lab.layout.run_dir / "rses" / FAULTY).rglob(f"{made}*")) and time.monotonic() < deadline:
        time.sleep(1)
    proc, records, _ = rucio_round("-k", "deletion", "--rse", FAULTY)
    assert {r.status for r in records if r.check == "rucio_deletion"} == {"pass"}, proc.stdout[-3000:]
