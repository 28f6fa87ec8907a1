"""Which certificate authorities the probes trust: those of the inventory's CA directory, as grid clients
do with X509_CERT_DIR.

OpenSSL's default verify paths are pointed at the same CAs (SSL_CERT_FILE, SSL_CERT_DIR): davix loads
those defaults for every HTTP request, and parsing the system bundle of some 140 CAs cost about 19 ms of
CPU per davs operation, against 0.5 ms with the lake's own CAs (measured on the lab; README, Performance).
This holds for the probe process only, and only when the inventory names a CA directory: a lake whose
endpoints need the system's CAs leaves `ca_dir` out (or sets X509_CERT_DIR to a directory holding both).
"""

import hashlib
import os
import tempfile
from pathlib import Path


def trust_ca_dir(ca_dir: str | None):
    if not ca_dir:  # no CA directory named: the process keeps its own trust settings
        return
    directory = Path(os.environ.setdefault("X509_CERT_DIR", ca_dir))
    pems = sorted(directory.glob("*.pem")) if directory.is_dir() else []
    if not pems:
        return
    bundle = b"".join(p.read_bytes() for p in pems)
    path = Path(tempfile.gettempdir()) / f"lakeprobe-ca-{hashlib.sha256(bundle).hexdigest()[:16]}.pem"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}")
        partial.write_bytes(bundle)
        partial.replace(path)  # atomic: xdist workers may write it at the same time
    os.environ["SSL_CERT_FILE"] = str(path)
    os.environ["SSL_CERT_DIR"] = str(directory)
