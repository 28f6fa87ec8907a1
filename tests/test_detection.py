"""The site suite catches each lab fault with exactly the expected checks and error classes, blames the
faulty RSE for every finding (never its healthy neighbours), stays green on a healthy lake, and is not
stalled by a hanging endpoint. Runs `pytest suites/site` as a user would."""

from collections import Counter
from pathlib import Path

import pytest

from lakeprobe import chat, report
from lakeprobe.records import Record

pytestmark = pytest.mark.lab

CHAIN = ["connection", "mkdir", "upload", "stat", "checksum", "download", "list", "delete", "stat_after_delete"]
AUTHZ = [
    "read_scope",
    "create_scope",
    "modify_scope",
    "modify_without_read",
    "create_without_read",
    "no_scope",
    "path_scope",
    "path_scope_boundary",
    "create_scope_boundary",
    "path_scope_trailing_slash",
    "path_scope_from_root",
    "group_access",
    "no_token",
    "expired_token",
    "wrong_audience",
    "several_audiences",
    "unknown_issuer",
    "embargo_owner",
    "embargo_refused_to_others",
    "embargo_publish",
]
# What a storage without token enforcement lets through; the owner's and modify checks still pass there.
LETS_THROUGH = set(AUTHZ) - {"modify_scope", "embargo_owner", "embargo_publish"}
# What the passthrough faults let a token read whose scopes do not allow it. root:// refuses a missing,
# expired or foreign token when it authenticates, before any authorization: those leak over davs only.
PASSED_ON_TO_READ = {
    "modify_without_read",
    "create_without_read",
    "no_scope",
    "path_scope",
    "wrong_audience",
    "several_audiences",
    "group_access",
    "path_scope_trailing_slash",
    "path_scope_from_root",
}
BOTH = ("davs", "root")
DAVS_ONLY = {"no_token", "expired_token", "unknown_issuer"}
TPC = {"davs_pull": "pull", "davs_push": "push", "root_tpc": "tpc"}
FAULTY = "XRD2"
DEADLINE = 30  # well above the stalls of a loaded 2-core machine (a lab XRootD was seen silent for 15 s)
BEFORE = Path(__file__).parent / "data" / "round-before-refactor.txt"


def _leaks(checks: set[str]) -> dict:
    return {
        **{(check, p, ""): "security" for check in checks for p in ("davs", "root")},
        **{(check, "davs", ""): "security" for check in DAVS_ONLY},
    }


# fault -> {(check, protocol, direction): error class}; direction is "" for the chain, "into" when the
# faulty RSE is the copy's destination, "from" when it is its source. Every other record of the faulty RSE
# is skipped (a step it needs failed) and every record without it passes.
EXPECTED = {
    "down": {("connection", "davs", ""): "unreachable", ("connection", "root", ""): "unreachable"},
    "hang": {("connection", "davs", ""): "timeout", ("connection", "root", ""): "timeout"},
    "expired-cert": {("connection", "davs", ""): "tls", ("connection", "root", ""): "tls"},
    "readonly": {
        ("mkdir", "davs", ""): "permission",
        ("mkdir", "root", ""): "permission",
        **{(check, "root" if check == "root_tpc" else "davs", "into"): "permission" for check in TPC},
    },
    "full": {
        ("upload", "root", ""): "no_space",
        # XrdHttp drops the connection when a PUT hits ENOSPC: over davs no reason reaches the client.
        ("upload", "davs", ""): "protocol_error",
        ("davs_pull", "davs", "into"): "no_space",
        ("davs_push", "davs", "into"): "protocol_error",
        ("root_tpc", "root", "into"): "no_space",
    },
    "corrupt": {
        ("upload", "davs", ""): "checksum_mismatch",
        ("upload", "root", ""): "checksum_mismatch",
        ("davs_pull", "davs", "into"): "checksum_mismatch",
        ("davs_push", "davs", "into"): "checksum_mismatch",
        ("root_tpc", "root", "into"): "checksum_mismatch",
    },
    # Only the side that acts needs TPC: the destination pulls, the source pushes; root:// needs both.
    # A destination without token enforcement has no token to hand its root:// TPC agent: the source refuses.
    "no-auth": {
        **{(check, p, ""): "security" for check in LETS_THROUGH for p in ("davs", "root")},
        ("root_tpc", "root", "into"): "auth_denied",
    },
    # A request its token's scopes do not allow goes on to an authdb granting the probe area to everyone.
    "passthrough-read": _leaks(PASSED_ON_TO_READ),
    "passthrough-all": _leaks(PASSED_ON_TO_READ | {"read_scope", "create_scope"}),
    # XRootD 5.5.3's own scope matching, without the lab's boundary wrapper: <prefix>/scoped-beside is reached.
    "scope-prefix": {(c, p, ""): "security" for c in ("path_scope_boundary", "create_scope_boundary") for p in BOTH},
    # A token naming several audiences, the lake's second among them, is refused as if it named none.
    "single-audience": {("several_audiences", p, ""): "auth_denied" for p in ("davs", "root")},
    # A naive slash boundary keeps the scope path's trailing slash: <prefix>/scoped/ reaches nothing below it.
    "trailing-slash": {("path_scope_trailing_slash", p, ""): "auth_denied" for p in ("davs", "root")},
    # Scope paths read from `/` and from the probe prefix: a token for /scoped reaches <prefix>/scoped.
    "two-base-paths": {("path_scope_from_root", p, ""): "security" for p in ("davs", "root")},
    # Groups grant nothing: the group's token, which has no storage scope, is refused in its own area.
    "no-groups": {("group_access", p, ""): "auth_denied" for p in ("davs", "root")},
    "tpc-off": {
        ("davs_pull", "davs", "into"): "protocol_error",
        ("davs_push", "davs", "from"): "protocol_error",
        ("root_tpc", "root", "into"): "protocol_error",
        ("root_tpc", "root", "from"): "protocol_error",
    },
}


# fault -> what the remedy of at least one of its findings says.
HINTED = {
    "down": "start the door's service and open port",
    "hang": "the door is hung or overloaded",
    "expired-cert": "the host certificate of localhost expired on ",
    "readonly": "drop `r/o` from its `all.export` line",
    "full": "has no space left under /lakeprobe",
    "corrupt": "corrupts data",
    "no-auth": "lets anonymous requests through",
    "passthrough-read": "scitokens.cfg `onmissing = deny`",
    "passthrough-all": "scitokens.cfg `onmissing = deny`",
    "scope-prefix": "matches scope paths as plain prefixes",
    "single-audience": "whose `aud` is a list",
    "trailing-slash": "keeps a scope path's trailing slash",
    "two-base-paths": "reads scope paths from more than one base",
    "no-groups": "grants nothing to the token's groups",
    "tpc-off": "http.exthandler xrdtpc libXrdHttpTPC.so",
}


def _direction(record):
    if not record.peer:
        return ""
    return "into" if record.peer == FAULTY else "from"


def _involves(record, rse=FAULTY):
    return rse in (record.rse, record.peer)


@pytest.fixture(scope="module")
def healthy_round(run_suite):
    return run_suite("--timeout", str(DEADLINE))


def test_healthy_lab_passes_with_a_record_for_every_check_and_copy(healthy_round):
    proc, records, _ = healthy_round
    assert proc.returncode == 0, proc.stdout[-3000:]
    per_endpoint = 2  # its throughput, judged over its transfers, and its IPv4 address (the lab has no IPv6)
    assert Counter(r.status for r in records) == {"pass": 3 * 2 * (len(CHAIN + AUTHZ) + per_endpoint) + 6 * len(TPC)}
    assert all(r.error_class == "" and r.blame == "" and r.run_id == records[0].run_id for r in records)
    assert {r.lake for r in records} == {"lakeprobe-lab"} and {r.run_kind for r in records} == {"round"}
    upload = next(r for r in records if r.check == "upload")
    assert upload.bytes == 1024 * 1024 and upload.throughput_Bps > 0 and upload.attempts == 1
    assert "XRD1 davs" in proc.stdout and "records:" in proc.stdout  # the summary
    # What each storage says it is, kept on every record of it; hints are for findings only.
    said = {(r.protocol, r.implementation) for r in records if r.suite == "site"}
    assert said == {("davs", "XrootD/v5.5.3"), ("root", "XRootD v5.5.3")}, said
    assert not any(r.hint for r in records)


def test_the_round_has_the_same_checks_as_before_the_protocol_modules(healthy_round):
    _, records, _ = healthy_round
    before = {tuple(line.split()) for line in BEFORE.read_text().splitlines() if not line.startswith("#")}
    now = {(r.suite, r.check, r.rse, r.protocol, r.peer or "-", r.mode or "-") for r in records}
    added_since = {
        "throughput",
        "connection_ipv4",
        "modify_without_read",
        "create_without_read",
        "no_scope",
        "path_scope_boundary",
        "create_scope_boundary",
        "several_audiences",
        "group_access",
        "path_scope_trailing_slash",
        "path_scope_from_root",
    }
    assert {row for row in now if row[1] not in added_since} == before


def test_one_rse_gives_only_its_records_and_its_copies_both_ways(run_suite):
    proc, records, _ = run_suite("--rse", "XRD1", "--timeout", str(DEADLINE))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {r.rse for r in records if not r.peer} == {"XRD1"}
    assert {(r.rse, r.peer) for r in records if r.peer} == {
        ("XRD1", "XRD2"),
        ("XRD2", "XRD1"),
        ("XRD1", "XRD3"),
        ("XRD3", "XRD1"),
    }
    assert len(records) == 2 * (len(CHAIN + AUTHZ) + 2) + 4 * len(TPC)  # + throughput and IPv4 per protocol
    assert {r.run_kind for r in records} == {"adhoc"}


def test_tpc_peer_limits_the_copies(run_suite):
    proc, records, _ = run_suite("--rse", "XRD1", "--tpc-peer", "XRD3", "--protocol", "root")
    assert proc.returncode == 0
    assert {(r.rse, r.peer) for r in records if r.peer} == {("XRD1", "XRD3"), ("XRD3", "XRD1")}
    assert {r.protocol for r in records} == {"root"}


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_each_fault_fails_exactly_the_expected_checks_and_blames_only_its_rse(fault, faulty, run_suite, tmp_path):
    faulty(FAULTY, fault)
    proc, records, _ = run_suite("--timeout", str(DEADLINE))
    assert proc.returncode == 1
    failed = {(r.check, r.protocol, _direction(r)): r.error_class for r in records if r.status == "fail"}
    assert failed == EXPECTED[fault]
    assert all(r.status in ("pass", "skip", "fail") for r in records)
    assert all(r.status == "pass" for r in records if not _involves(r)), "another RSE was affected"
    assert all(r.message for r in records if r.status in ("fail", "skip"))
    # What to do: every finding has a remedy of its own (not the table's last resort), this fault's named.
    hints = {r.hint for r in records if r.is_finding}
    assert all(h and "see the message" not in h for h in hints), hints
    assert any(HINTED[fault] in h for h in hints), hints
    assert "\n    hint: " in proc.stdout  # under the finding in the terminal summary
    # Whom it implicates: the faulty RSE, for every finding; its neighbours' history and chat stay green.
    assert {r.blame for r in records if r.is_finding} == {FAULTY}
    _assert_neighbours_green(records, tmp_path)


def _assert_neighbours_green(records: list[Record], tmp_path):
    now = max(r.ts for r in records) + 1
    page = report.render([records], "lakeprobe-lab", [], now, 7200)
    for neighbour in ("XRD1", "XRD3"):
        assert f'class="hour pass" data-status="pass" data-rse="{neighbour}" data-hour="0"' in page
    assert f'class="hour fail" data-status="fail" data-rse="{FAULTY}" data-hour="0"' in page
    due = chat.changes([records, records], confirm=2)  # the fault held two rounds: announced, under XRD2 only
    assert due and {c.blame for c in due} == {FAULTY}


def test_a_slow_rse_warns_for_its_throughput_and_its_neighbours_do_not(faulty, run_suite):
    faulty(FAULTY, "slow")
    proc, records, _ = run_suite("--timeout", "30", "--file-size", "256k", "--protocol", "davs", "-k", "storage or tpc")
    assert proc.returncode == 0, proc.stdout[-3000:]
    warned = [r for r in records if r.status == "warn"]
    assert [(r.check, r.rse, r.error_class, r.blame) for r in warned] == [("throughput", FAULTY, "slow", FAULTY)]
    assert "below the floor" in warned[0].message and "davs throughput: warn slow: slow:" in proc.stdout
    assert warned[0].hint.startswith(f"transfers with {FAULTY} are below the floor: look at the network path")
    throughputs = [(r.rse, r.status) for r in records if r.check == "throughput"]
    assert throughputs == [("XRD1", "pass"), (FAULTY, "warn"), ("XRD3", "pass")]
    assert not [r for r in records if r.status in ("fail", "error")]


def test_a_hanging_rse_costs_the_round_one_deadline(healthy_round, faulty, run_suite):
    _, _, healthy_seconds = healthy_round
    faulty(FAULTY, "hang")
    proc, records, hang_seconds = run_suite("--timeout", str(DEADLINE))
    timeouts = [r for r in records if r.error_class == "timeout"]
    assert {(r.rse, r.check) for r in timeouts} == {(FAULTY, "connection")}
    assert all(r.duration_s <= DEADLINE + 1 for r in timeouts)
    skipped = [r for r in records if r.status == "skip" and _involves(r)]
    # Each names the root cause: XRD2's connection (its own chain's records are XRD2's already).
    assert skipped and all("connection" in r.message for r in skipped)
    assert all("XRD2" in r.message for r in skipped if r.rse != FAULTY or r.peer)
    # One deadline, spent while the other endpoints are checked: a generous bound, not a race.
    assert hang_seconds < healthy_seconds + 2 * DEADLINE + 15, (healthy_seconds, hang_seconds)


def test_quirks_and_downtimes_from_the_inventory_skip_or_mark_what_they_name(inventory_with, run_suite):
    inventory = inventory_with(
        XRD1={"downtime": "disk server replacement"}, XRD3={"quirks": {"no_checksum": True, "tpc_modes": ["pull"]}}
    )
    proc, records, _ = run_suite("--inventory", inventory, "--timeout", str(DEADLINE))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {r.status for r in records if _involves(r, "XRD1")} == {"downtime"}
    skipped = {(r.check, r.rse, r.peer) for r in records if r.status == "skip"}
    assert skipped == {("checksum", "XRD3", "")} | {
        (check, a, b) for check in ("davs_push", "root_tpc") for a, b in (("XRD2", "XRD3"), ("XRD3", "XRD2"))
    }
    assert all(r.message.startswith("quirk:") for r in records if r.status == "skip")
    assert all(r.status == "pass" for r in records if not _involves(r, "XRD1") and r.status != "skip")


def test_an_rse_deadline_from_the_inventory_overrides_the_global_one(inventory_with, faulty, run_suite):
    faulty(FAULTY, "hang")
    proc, records, _ = run_suite(
        "--inventory",
        inventory_with(**{FAULTY: {"timeout_s": 2}}),
        "--timeout",
        "60",
        "--rse",
        FAULTY,
        "--tpc-peer",
        "XRD1",
    )
    timeouts = [r for r in records if r.error_class == "timeout"]
    assert timeouts and all(r.duration_s <= 3 for r in timeouts)
    assert "2 s" in timeouts[0].message


def test_a_round_leaves_nothing_on_the_storage(healthy_round, lab):
    run_id = healthy_round[1][0].run_id
    for rse in lab.rses():
        assert not list(rse.data.glob(f"**/*{run_id}*")), rse.name


def test_a_pair_only_failure_is_blamed_on_the_pair_and_shown_as_such(faulty, run_suite):
    """XRD2 cannot reach XRD1's ports (a firewall between two sites): each works alone, the copies in which
    XRD2 connects to XRD1 fail, and they blame the pair, not either site."""
    faulty(FAULTY, "no-route-to-XRD1")
    proc, records, _ = run_suite("--timeout", str(DEADLINE))
    failed = {(r.check, r.rse, r.peer): r.blame for r in records if r.status == "fail"}
    assert failed == {
        ("davs_pull", "XRD1", "XRD2"): "XRD1->XRD2",
        ("root_tpc", "XRD1", "XRD2"): "XRD1->XRD2",
        ("davs_push", "XRD2", "XRD1"): "XRD2->XRD1",
    }, proc.stdout[-3000:]
    assert all(r.status == "pass" for r in records if not r.peer)  # both sites are healthy alone
    hints = {r.hint for r in records if r.status == "fail"}
    assert all("cannot reach each other for the copy: open the firewall" in h for h in hints), hints
    now = max(r.ts for r in records) + 1
    page = report.render([records], "lakeprobe-lab", [], now, 7200)
    for rse in ("XRD1", "XRD2", "XRD3"):
        assert f'class="hour pass" data-status="pass" data-rse="{rse}" data-hour="0"' in page
    assert 'data-rse="XRD1-&gt;XRD2" data-hour="0"' in page and "XRD1-&gt;XRD2 (pair)" in page
