"""The hints table: every row fills in only names it has, every finding gets a remedy, and the remedies
chosen for messages the lab's faults really produce (captured from runs) say what to do there."""

import re
import string

import pytest

from lakeprobe import hints
from lakeprobe.errors import ErrorClass
from lakeprobe.records import Record

NAMES = {"rse", "source", "destination", "blame", "host", "netloc", "port", "prefix"}
DAVS = "davs://se01.example.org:2880/"


def _finding(check="upload", error_class="permission", message="", **fields) -> Record:
    return Record(
        run_id="r",
        suite="site",
        check=check,
        rse="LAPP",
        protocol="davs",
        status="fail",
        error_class=error_class,
        message=message,
        **fields,
    )


@pytest.mark.parametrize("row", hints.HINTS, ids=lambda row: f"{row.checks}:{row.error_class}")
def test_each_row_names_only_what_it_is_given(row):
    named = {name for _, name, _, _ in string.Formatter().parse(row.text) if name}
    assert named <= NAMES | set(re.compile(row.message).groupindex), named


@pytest.mark.parametrize("error_class", [c for c in ErrorClass if c != ErrorClass.NONE])
@pytest.mark.parametrize("check", ["upload", "root_tpc", "no_token", "connection", "rucio_rule", "throughput"])
def test_every_finding_gets_a_remedy(check, error_class):
    assert hints.hint_for(_finding(check, error_class), "", DAVS)


def test_a_pass_gets_none():
    assert hints.hint_for(Record(run_id="r", suite="site", check="upload", status="pass")) == ""


@pytest.mark.parametrize(
    "check, error_class, message, implementation, expected",
    [
        (
            "connection",
            "tls",
            "se01.example.org:2880: certificate expired on 2026-12-06 (se01.example.org)",
            "",
            "the host certificate of se01.example.org expired on 2026-12-06: renew it and restart the door",
        ),
        (
            "connection",
            "unreachable",
            "se01.example.org:2880 refuses connections (nothing listens there)",
            "",
            "nothing answers at se01.example.org:2880: start the door's service and open port 2880 in the firewall",
        ),
        (
            "mkdir",
            "permission",
            "mkdir: [ERROR] Server responded with an error: [3005] Unable to mkdir /lakeprobe/"
            "r/root; file path marked read/only",
            "XRootD v5.5.3",
            "drop `r/o` from its `all.export` line",
        ),
        ("mkdir", "permission", "MKCOL: HTTP 403", "dCache/9.2.6", "gPlazma's scitoken mapping"),
        (
            "davs_pull",
            "protocol_error",
            "davs TPC pull: TRANSFER ERROR: Copy failed (3rd pull). Last attempt: copy HTTP 400 : Server Error",
            "XrootD/v5.5.3",
            "CERN has no HTTP-TPC handler (XRootD: `http.exthandler xrdtpc",
        ),
        ("davs_pull", "protocol_error", "copy HTTP 400", "dCache/9.2.6", "HTTP-TPC refused by CERN's WebDAV door"),
        ("davs_push", "protocol_error", "copy HTTP 400", "XrootD/v5.5.3", "LAPP has no HTTP-TPC handler"),
        (
            "root_tpc",
            "unreachable",
            "root TPC: transfer: [FATAL] Socket error: connection refused:  (source)",
            "",
            "LAPP and CERN cannot reach each other for the copy",
        ),
        (
            "path_scope_boundary",
            "security",
            "let through reading /lakeprobe/scoped-beside with a token for /lakeprobe/scoped",
            "XrootD/v5.5.3",
            "LAPP matches scope paths as plain prefixes (/a reaches /ab)",
        ),
        (
            "create_scope",
            "security",
            "let through overwriting with storage.create only",
            "XrootD/v5.5.3",
            "scitokens.cfg `onmissing = deny`",
        ),
        (
            "upload",
            "timeout",
            "checksum on LAPP root: no answer within its 10 s deadline",
            "XrootD/v5.5.3",
            "raise `max` and restart it",
        ),
        ("checksum", "timeout", "checksum on LAPP davs: no answer within its 10 s deadline", "dCache/9.2.6", "swamped"),
        ("stat", "timeout", "stat on LAPP davs: no answer within its 10 s deadline", "XrootD/v5.5.3", "a hung door"),
        (
            "create_scope",
            "security",
            "let through overwriting with storage.create only",
            "StoRM",
            "check no fallback mapping or ACL grants the request",
        ),
    ],
)
def test_a_real_message_gets_its_remedy(check, error_class, message, implementation, expected):
    peer = (
        {"peer": "CERN", "mode": "push" if check == "davs_push" else "pull"} if "_p" in check or "tpc" in check else {}
    )
    assert expected in hints.hint_for(_finding(check, error_class, message, **peer), implementation, DAVS)


def test_an_error_of_the_token_issuer_points_at_it():
    record = _finding("no_token", "unreachable", "token issuer https://iam.example.org unreachable: ConnectionError")
    record.status, record.blame = "error", "issuer"
    assert hints.hint_for(record, "", DAVS) == "not the storage: issuer broke; the services suite checks it"


def test_what_a_server_says_it_is_is_kept_inert_and_bounded():
    said = hints.implementation("evil\x1b[31m/1.0\n" + "x" * 500)
    assert "\x1b" not in said and "\n" not in said and len(said) <= hints.IMPLEMENTATION_CHARS


@pytest.mark.parametrize(
    "message, expected",
    [
        (
            "se01.example.org:2880: certificate does not name host se01.example.org (CN=other)",
            "does not name that host: reissue it with se01.example.org in its subjectAltName",
        ),
        ("se01.example.org:2880: the port speaks plain HTTP, not TLS", "se01.example.org:2880 offers no TLS"),
        ("se01.example.org:1094 offers no TLS on root://, so lakeprobe sends it no token", "offers no TLS"),
        ("se01.example.org:2880: certificate not valid yet (CN=se01)", "is not valid yet: check the server's clock"),
        ("se01.example.org:2880: certificate not trusted (unknown CA: CN=Other CA)", "chain is not trusted"),
    ],
)
def test_each_tls_diagnosis_gets_its_own_remedy(message, expected):
    assert expected in hints.hint_for(_finding("connection", "tls", message), "", DAVS)


def test_a_certificate_about_to_expire_warns_with_its_date():
    record = _finding("connection", "", "certificate expires in 5 days (2026-12-12)")
    record.status = "warn"
    assert (
        hints.hint_for(record, "", DAVS) == "the host certificate of se01.example.org expires on 2026-12-12: "
        "renew it before then"
    )


def test_a_copy_hint_is_about_the_end_that_did_the_work():
    pull = _finding("davs_pull", "no_space", "davs TPC pull: ... No space left on device", peer="CERN", mode="pull")
    assert hints.hint_for(pull, "", DAVS, "/cern/lakeprobe").startswith("CERN has no space left under /cern/lakeprobe")


def test_an_endpoint_without_a_port_gets_its_schemes_default():
    hint = hints.hint_for(_finding("connection", "unreachable", "refuses connections"), "", "davs://se01.example.org/")
    assert "open port 443 in the firewall" in hint
