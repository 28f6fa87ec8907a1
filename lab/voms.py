"""The lab's X.509 credentials: a user certificate from the lab CA, VOMS proxies for the lab VO made with
`voms-proxy-fake` (voms-clients) and a VOMS host certificate of the lab CA, and the vomsdir that makes the
lab's storage trust that host for the VO.

`voms-proxy-fake`, not a VOMS server: a proxy's attribute certificate is all a storage ever checks (the
signature of a VOMS host its vomsdir names, the VO, the validity), and the fake signs exactly that with no
database or daemon to run. Proxies are made again at every `lab up`, valid a day.
"""

import datetime
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from lab import pki

VO, OTHER_VO = "labvo", "othervo"
VOMS_HOST = "voms.labvo.localhost"
OTHER_VOMS_HOST = "voms.othervo.localhost"
USER_CN = "lakeprobe prober"
# The proxies the lab writes, by the inventory's name for each.
PROXIES = ("proxy", "expired_proxy", "no_voms_proxy", "other_vo_proxy")


def _issue(pki_dir: Path, cn: str, cert_path: Path, key_path: Path, usage):
    ca_key, ca_cert = pki._load_ca(pki_dir)
    key = pki._key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(pki._name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - pki.DAY)
        .not_valid_after(now + 365 * pki.DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        # A proxy's authorityKeyIdentifier is its issuer's: voms-proxy-fake makes none without it.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key_path.exists():
        key_path.chmod(0o600)
    pki._write_key(key, key_path)


def vomsdir(run_dir: Path) -> Path:
    return run_dir / "vomsdir"


def user_dn() -> str:
    """The lab user's DN, as grid-mapfiles write it."""
    return _dn(USER_CN)


def _dn(cn: str) -> str:
    return f"/O=lakeprobe lab/CN={cn}"


class Credentials:
    def __init__(self, pki_dir: Path, run_dir: Path):
        self.pki_dir, self.dir = pki_dir, run_dir / "x509"
        self.vomsdir = vomsdir(run_dir)  # read by the storage's own user, unlike the proxies

    def proxy(self, name: str) -> Path:
        return self.dir / f"{name}.pem"

    def ensure(self):
        """The certificates once, the vomsdir, and the proxies anew."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)  # the proxies are secrets: the storage's user reads none of them
        for cn, name, usage in (
            (USER_CN, "user", ExtendedKeyUsageOID.CLIENT_AUTH),
            (VOMS_HOST, "voms", ExtendedKeyUsageOID.SERVER_AUTH),
            (OTHER_VOMS_HOST, "voms-other", ExtendedKeyUsageOID.SERVER_AUTH),
        ):
            if not (self.dir / f"{name}.pem").exists():
                _issue(self.pki_dir, cn, self.dir / f"{name}.pem", self.dir / f"{name}.key", usage)
        self.write_vomsdir()
        self._fake("proxy", VO, "voms")
        self._fake("expired_proxy", VO, "voms", "-pastproxy", "48:00", "-pastac", "48:00")
        self._fake("no_voms_proxy", None, None)
        self._fake("other_vo_proxy", OTHER_VO, "voms-other")

    def write_vomsdir(self):
        """The VOs the lab's storage trusts, the other VO too (as a site trusts many): for each, the DN of its
        VOMS host and of the CA that signed it. Which VO may do what is the storage's authdb."""
        ca = _dn("lakeprobe lab CA")
        for vo, host in ((VO, VOMS_HOST), (OTHER_VO, OTHER_VOMS_HOST)):
            lsc = self.vomsdir / vo / f"{host}.lsc"
            lsc.parent.mkdir(parents=True, exist_ok=True)
            lsc.write_text(f"{_dn(host)}\n{ca}\n")
            lsc.parent.chmod(0o755)
        self.vomsdir.chmod(0o755)

    def _fake(self, name: str, vo: str | None, host: str | None, *extra: str):
        out = self.proxy(name)
        out.unlink(missing_ok=True)
        args = ["voms-proxy-fake", "-q", "-rfc", "-hours", "24", "-cert", str(self.dir / "user.pem")]
        args += ["-key", str(self.dir / "user.key"), "-certdir", str(self.pki_dir / "certificates"), "-out", str(out)]
        if vo:
            # A storage finds the VOMS host's .lsc in its vomsdir by the host name of the AC's URI.
            uri = {VO: VOMS_HOST, OTHER_VO: OTHER_VOMS_HOST}[vo]
            args += ["-voms", vo, "-fqan", f"/{vo}/Role=NULL/Capability=NULL", "-uri", f"{uri}:15000"]
            args += ["-hostcert", str(self.dir / f"{host}.pem"), "-hostkey", str(self.dir / f"{host}.key")]
        proc = subprocess.run([*args, *extra], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"voms-proxy-fake made no {name}: {(proc.stderr or proc.stdout).strip()[:300]}")
        out.chmod(0o600)
