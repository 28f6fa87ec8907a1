"""The lab's certificate authority: one CA, host certificates for localhost, and the issuer's signing key.

Everything is made once, at the first `lab up`, and kept in the run directory so that restarts keep the
same CA (clients keep trusting it) and the same token signing key (the issuer keeps its `kid`).
"""

import datetime
import ipaddress
import json
import subprocess
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from lab.hosts import DUAL_STACK_HOST

DAY = datetime.timedelta(days=1)


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(key, path: Path):
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    path.chmod(0o400)


def _name(cn):
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lakeprobe lab"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _make_ca(ca_dir: Path):
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("lakeprobe lab CA"))
        .issuer_name(_name("lakeprobe lab CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key, ca_dir / "ca.key")
    (ca_dir / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    # Clients (davix, XrdCl, curl --capath) find the CA through X509_CERT_DIR: a directory of hashed names.
    hashed = ca_dir / "certificates"
    hashed.mkdir(exist_ok=True)
    (hashed / "lakeprobe-ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    subprocess.run(["openssl", "rehash", str(hashed)], check=True, capture_output=True)


def _load_ca(ca_dir: Path):
    key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    return key, cert


def issue_host_cert(ca_dir: Path, cert_path: Path, key_path: Path, *, expired: bool = False, ca=None):
    """A localhost server certificate signed by the lab CA (or `ca`, a (key, cert) pair); `expired` makes one
    that ended yesterday."""
    ca_key, ca_cert = ca or _load_ca(ca_dir)
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    start, end = (now - 30 * DAY, now - DAY) if expired else (now - DAY, now + 365 * DAY)
    # XRootD's TPC agent reaches its peer at the IPv6-mapped address: it must be in the SAN too. DUAL_STACK_HOST
    # names the lab by both families (lab/hosts.py).
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.DNSName(DUAL_STACK_HOST)]
        + [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1", "::ffff:127.0.0.1")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key_path.exists():
        key_path.chmod(0o600)
    _write_key(key, key_path)


def _int_b64(n: int) -> str:
    import base64

    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _make_signing_jwk(path: Path):
    key = _key()
    priv, pub = key.private_numbers(), key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": "lakeprobe-lab-1",
        "alg": "RS256",
        "use": "sig",
        "n": _int_b64(pub.n),
        "e": _int_b64(pub.e),
        "d": _int_b64(priv.d),
        "p": _int_b64(priv.p),
        "q": _int_b64(priv.q),
        "dp": _int_b64(priv.dmp1),
        "dq": _int_b64(priv.dmq1),
        "qi": _int_b64(priv.iqmp),
    }
    path.write_text(json.dumps(jwk))
    path.chmod(0o600)


def _make_ec_signing_jwk(path: Path):
    """The issuer's second key: ES256 (P-256), which the WLCG JWT profile allows beside RS256."""
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    path.write_text(json.dumps({**jwk, "kid": "lakeprobe-lab-es256", "alg": "ES256", "use": "sig"}))
    path.chmod(0o600)


# The issuer's signing keys, each file with what makes it: RS256 for every client but those in
# lab.clients.ES256_CLIENTS.
SIGNING_JWKS = {"issuer-signing.jwk": _make_signing_jwk, "issuer-signing-es256.jwk": _make_ec_signing_jwk}
_PUBLIC = ("kty", "kid", "alg", "use", "n", "e", "crv", "x", "y")


def public_jwks(pki_dir: Path) -> dict:
    keys = [json.loads((pki_dir / name).read_text()) for name in SIGNING_JWKS]
    return {"keys": [{k: jwk[k] for k in _PUBLIC if k in jwk} for jwk in keys]}


def ensure(pki_dir: Path):
    """Make the CA, the shared host certificate, an expired one and the issuer key, unless already there."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    if not (pki_dir / "ca.pem").exists():
        _make_ca(pki_dir)
    if not (pki_dir / "host.pem").exists() or DUAL_STACK_HOST.encode() not in (pki_dir / "host.pem").read_bytes():
        issue_host_cert(pki_dir, pki_dir / "host.pem", pki_dir / "host.key")
        issue_host_cert(pki_dir, pki_dir / "expired.pem", pki_dir / "expired.key", expired=True)
    if (
        not (pki_dir / "foreign.pem").exists()
        or (pki_dir / "foreign.pem").stat().st_mtime < (pki_dir / "host.pem").stat().st_mtime
    ):  # signed by a CA nobody trusts: a site with another trust
        foreign_key = _key()
        now = datetime.datetime.now(datetime.UTC)
        foreign_ca = (
            x509.CertificateBuilder()
            .subject_name(_name("a CA the lake does not know"))
            .issuer_name(_name("a CA the lake does not know"))
            .public_key(foreign_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(foreign_key, hashes.SHA256())
        )
        issue_host_cert(pki_dir, pki_dir / "foreign.pem", pki_dir / "foreign.key", ca=(foreign_key, foreign_ca))
    for name, make in SIGNING_JWKS.items():
        if not (pki_dir / name).exists():
            make(pki_dir / name)
