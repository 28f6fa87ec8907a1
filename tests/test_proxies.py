"""The probe's X.509 proxy before it is sent anywhere: one this client cannot present, or one that expired,
is lakeprobe's own error (never the storage's refusal); `proxy` defaults to $X509_USER_PROXY; a macaroon
quoted bare in a message is scrubbed like a token."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lakeprobe.errors import ErrorClass, ProbeError, ProbeFailure, scrub
from lakeprobe.inventory import X509
from lakeprobe.x509 import refused_in_handshake, unexpired, usable


def _proxy(tmp_path, ends_in: datetime.timedelta, matching_key: bool = True) -> str:
    """A self-signed certificate and a key in one file of mode 600, as voms-proxy-init writes a proxy."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "prober")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + ends_in)
        .sign(key, hashes.SHA256())
    )
    held = key if matching_key else ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "x509up"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + held.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    return str(path)


def test_a_proxy_whose_key_is_not_its_certificates_is_lakeprobes_own(tmp_path):
    proxy = _proxy(tmp_path, datetime.timedelta(days=1), matching_key=False)
    with pytest.raises(ProbeError) as raised:
        usable(proxy)
    assert raised.value.blame == "lakeprobe" and raised.value.error_class == ErrorClass.TLS
    assert "cannot present the proxy" in str(raised.value) and "PRIVATE KEY" not in str(raised.value)
    usable(_proxy(tmp_path, datetime.timedelta(days=1)))  # a sound one passes


def test_an_expired_proxy_loads_but_is_an_error_at_use(tmp_path):
    proxy = _proxy(tmp_path, -datetime.timedelta(days=1))
    assert X509(vo="dteam", proxy=proxy).proxy == proxy  # the inventory loads: other suites still run
    with pytest.raises(ProbeError) as raised:
        unexpired(proxy)
    assert "expired at" in str(raised.value) and "renew it (voms-proxy-init)" in str(raised.value)
    unexpired(_proxy(tmp_path, datetime.timedelta(hours=1)))


def test_the_proxy_defaults_to_x509_user_proxy(tmp_path, monkeypatch):
    proxy = _proxy(tmp_path, datetime.timedelta(days=1))
    monkeypatch.setenv("X509_USER_PROXY", proxy)
    assert X509(vo="dteam").proxy == proxy
    monkeypatch.delenv("X509_USER_PROXY")
    with pytest.raises(ValueError, match="set X509_USER_PROXY"):
        X509(vo="dteam")


def test_a_bare_macaroon_is_scrubbed():
    v1 = "MDAxY2xvY2F0aW9uIFhSRDEKMDAzNGlkZW50aWZpZXIgZjY0YjM1ZDYtZjM2Ny00NDQ0"
    said = scrub(f"copy failed: source said 403 for {v1} (path /lakeprobe/MDA-not-a-macaroon)")
    assert v1 not in said and "<macaroon>" in said and "/lakeprobe/MDA-not-a-macaroon" in said


def test_a_refusal_in_the_handshake_is_told_from_an_endpoint_out_of_reach():
    def failure(error_class, said):
        return ProbeFailure(error_class, f"PUT davs://se:443/x: {said}")

    alert = failure(ErrorClass.TLS, "SSLError: [SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert")
    assert refused_in_handshake(alert) == "refused in the TLS handshake: SSLV3_ALERT_CERTIFICATE_EXPIRED"
    closed = failure(ErrorClass.UNREACHABLE, "ConnectionError: [Errno 104] Connection reset by peer")
    assert refused_in_handshake(closed) == "refused in the TLS handshake: the connection closed"
    assert not refused_in_handshake(failure(ErrorClass.UNREACHABLE, "ConnectionError: Connection refused"))
    assert not refused_in_handshake(failure(ErrorClass.TLS, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed"))
