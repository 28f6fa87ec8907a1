"""The error classification table, row by row, with messages captured from real failures of gfal2/davix,
XrdCl (in-process and xrdcp/xrdfs), requests and XRootD servers on this machine (the lab, its faults, and
servers configured otherwise). A message that lands in the wrong class shows up as a wrong finding."""

import errno

import pytest

from lakeprobe.classify import classify

CAPTURED = [
    # host name does not resolve
    ("Result Domain name resolution failed after 1 attempts", None, "unreachable"),  # gfal2 davs
    (
        "HTTPSConnectionPool(host='no-such-host.lakeprobe.invalid', port=1094): Max retries exceeded with url: "
        "/lakeprobe (Caused by NameResolutionError(\"HTTPSConnection(host='no-such-host.lakeprobe.invalid', port=1094)"
        ": Failed to resolve 'no-such-host.lakeprobe.invalid' ([Errno -2] Name or service not known)\"))",
        None,
        "unreachable",
    ),  # requests
    ("Failed to stat file (No route to host)", 113, "unreachable"),  # gfal2 root
    ("[FATAL] Invalid address", None, "unreachable"),  # XrdCl
    # nothing listens
    ("Result Could not connect to server after 1 attempts", 112, "unreachable"),
    (
        "HTTPSConnectionPool(host='localhost', port=20199): Max retries exceeded with url: /lakeprobe (Caused by "
        "NewConnectionError(\"HTTPSConnection(host='localhost', port=20199): Failed to establish a new connection: "
        '[Errno 111] Connection refused"))',
        None,
        "unreachable",
    ),
    ("Failed to stat file (Connection refused)", 111, "unreachable"),
    ("[FATAL] Connection error", None, "unreachable"),
    # TLS: plain HTTP on a TLS port, expired, unknown CA
    ("Result (Neon): SSL handshake failed: wrong version number after 1 attempts", 13, "tls"),
    (
        "HTTPSConnectionPool(host='localhost', port=20195): Max retries exceeded with url: /lakeprobe (Caused by "
        "SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)')))",
        None,
        "tls",
    ),
    ("Result (Neon): Server certificate verification failed: certificate has expired after 1 attempts", 112, "tls"),
    ("Result (Neon): Server certificate verification failed: issuer is not trusted after 1 attempts", 112, "tls"),
    ("[FATAL] TLS error: resource temporarily unavailable", 11, "tls"),  # XrdCl, unknown CA and expired alike
    # checksums: another algorithm than asked for is not a corruption
    (
        "DESTINATION CHECKSUM checksum calculation for adler32 not supported for "
        "davs://localhost:20181/lakeprobe/exp/g.dat",
        38,
        "checksum_unsupported",
    ),
    ("Got 'md5' while expecting 'adler32' (Operation now in progress)", 115, "checksum_unsupported"),
    ("Error on XrdCl::CopyProcess::Run(): [ERROR] CheckSum error:  (destination)", 84, "checksum_mismatch"),
    # authorization
    ("[FATAL] Auth failed: No protocols left to try", None, "auth_denied"),
    ("HTTP 403 Forbidden", None, "auth_denied"),
    (
        "[ERROR] Server responded with an error: [3010] Unable to create /lakeprobe/x.dat; permission denied",
        3010,
        "auth_denied",
    ),
    # namespace
    (
        "[ERROR] Server responded with an error: [3011] Unable to locate /lakeprobe/exp/nonexist; no such file or "
        "directory",
        3011,
        "not_found",
    ),
    # an XRootD cluster's manager: no data server has the file
    ("[ERROR] Server responded with an error: [3011] No servers are available to read the file.", 3011, "not_found"),
    (
        "[ERROR] Server responded with an error: [3005] Unable to create /lakeprobe/x; read-only file system",
        None,
        "permission",
    ),
    ("[ERROR] Server responded with an error: [3009] Unable to write; no space left on device", None, "no_space"),
    # third-party copy refused by a server without it
    ("[ERROR] Server responded with an error: [3013] tpc not supported", None, "protocol_error"),
    ("Result HTTP 400 : Copy failed: http 400 after 1 attempts", None, "protocol_error"),
    # deadlines
    ("upload on XRD2 davs: no answer within its 60 s deadline", None, "timeout"),
    ("[ERROR] Operation expired", None, "timeout"),
]


@pytest.mark.parametrize("message, code, expected", CAPTURED, ids=[f"{c[2]}-{i}" for i, c in enumerate(CAPTURED)])
def test_each_captured_message_lands_in_its_class(message, code, expected):
    assert classify(message, code) == expected


def test_paths_and_urls_never_decide_the_class():
    assert classify("open root://host//lakeprobe/timeout/certificate.dat failed", errno.ENOENT) == "not_found"


def test_an_unexplained_message_falls_back_to_its_errno_then_unknown():
    assert classify("something odd", errno.ENOSPC) == "no_space"
    assert classify("something odd") == "unknown"
