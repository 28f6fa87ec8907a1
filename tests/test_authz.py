"""Token handling, proven on the test lab: a stopped issuer is blamed, not the storage; the issuer is asked
once per token kind and round, whatever the number of checks; no token or client secret reaches any output;
and the checks' own JWT tools tell a real token from a forged one. (The no-auth fault is in test_detection.)"""

import json
import re

import pytest
import requests

from lakeprobe import jwts

pytestmark = pytest.mark.lab

JWT = re.compile(r"eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]+")


@pytest.fixture
def issuer_stopped(lab):
    lab.stop_service("issuer")
    yield
    lab.issuer.start()


def _issued(lab) -> int:
    """Tokens issued to the probe's clients; Rucio's daemons ask for their own ("rucio") as they please."""
    log = lab.issuer.log_file.read_text()
    return log.count("token issued") - log.count("token issued client=rucio\n")


def test_a_stopped_issuer_is_blamed_not_the_storage(issuer_stopped, run_suite):
    proc, records, _ = run_suite("--rse", "XRD1", "--tpc-peer", "XRD2", "--timeout", "30")
    assert proc.returncode == 1
    assert not [r for r in records if r.status == "fail"], "a storage was blamed for the issuer's outage"
    errors = [r for r in records if r.status == "error"]
    assert errors and all(r.error_class == "unreachable" and "token issuer" in r.message for r in errors)
    assert {r.blame for r in errors} == {"issuer"}
    # Every check that needs a token is in error; davs connection (a TLS handshake) needs none and passes, and
    # so does reaching each address family (a handshake too, whatever the protocol).
    assert {r.check for r in records if r.status == "pass"} == {"connection", "connection_ipv4"}
    assert {r.check for r in errors} >= {"connection", "mkdir", "read_scope", "no_token", "root_tpc", "davs_pull"}
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "selection",
    [("--rse", "XRD1", "--tpc-peer", "XRD2", "-n", "2"), ("-n", "3")],
    ids=["1 RSE, 2 workers", "3 RSEs, 3 workers"],
)
def test_the_issuer_is_asked_once_per_token_kind_and_round(lab, inventory, run_suite, selection):
    before = _issued(lab)
    proc, records, _ = run_suite(*selection)
    assert proc.returncode == 0, proc.stdout[-2000:]
    # Every declared client; the probe for a wrong audience, for two wrong ones, for a wrong one and the lake's.
    kinds = len(inventory.issuer.scopes) + 3
    assert _issued(lab) - before == kinds, f"{len(records)} checks"


def test_no_token_or_secret_reaches_any_output(lab, faulty, run_suite, tmp_path):
    secrets = list(json.loads((lab.layout.run_dir / "clients.json").read_text()).values())
    faulty("XRD2", "no-auth")  # failures carry server messages, where a token would most likely slip through
    proc, records, _ = run_suite("--rse", "XRD2", "--tpc-peer", "XRD1", "-rA", "-v")
    assert proc.returncode == 1 and any(r.error_class == "security" for r in records)
    outputs = proc.stdout + proc.stderr + json.dumps([r.to_dict() for r in records])
    assert not JWT.findall(outputs)
    assert not [s for s in secrets if s in outputs]


def test_a_forged_token_does_not_verify_and_a_real_one_does(lab, tokens):
    ca = str(lab.layout.pki / "ca.pem")
    jwks = requests.get(f"{lab.layout.issuer_url}/jwks", verify=ca, timeout=10).json()
    real = tokens.token("probe")
    forged = jwts.unknown_issuer_token(jwts.claims(real)["aud"], jwts.claims(real)["scope"])
    assert jwts.signed_by(real, jwks) and not jwts.signed_by(forged, jwks)
    assert jwts.claims(forged)["iss"] == jwts.UNKNOWN_ISSUER


def test_the_issuer_checks_verify_every_clients_token_rs256_and_es256_alike(run_suite, tokens):
    assert {jwts.header(tokens.token(c))["alg"] for c in ("probe", "probe-es256")} == {"RS256", "ES256"}
    proc, records, _ = run_suite("-k", "issuer", suite="suites/services")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert {r.check: r.status for r in records}.get("issuer_token_claims") == "pass"
