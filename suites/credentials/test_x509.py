"""X.509 proxies over https and root:// (gsi), per RSE x protocol of the RSEs the inventory marks
`x509: true`: the VO's proxy writes, reads back and deletes a file (`x509_chain`); an expired proxy
(`x509_expired`), a proxy with no VOMS attributes (`x509_no_voms`) and another VO's proxy (`x509_other_vo`)
are refused a write. A refusal of the VO's proxy is `auth_denied`; a write let through that must be refused
is `security`, as for tokens."""

import os

from lakeprobe.errors import ErrorClass, NotProbed, ProbeError, ProbeFailure
from lakeprobe.protocols.base import Outcome
from lakeprobe.x509 import ROOT_PROTOCOLS, X509_PROTOCOLS

RSES_WITH = "x509"  # the RSEs these checks run on: those marked `x509: true`
PROTOCOLS = X509_PROTOCOLS
FILE_SIZE = 64 * 1024


def test_x509_chain(step, record):
    """The VO's proxy writes a file, reads the same bytes back and deletes it."""
    url, proxy, data = step.url("x509.dat"), step.proxy("proxy"), os.urandom(FILE_SIZE)
    for what, done in (
        ("write", lambda: step.client.put(url, proxy, data)),
        ("read", lambda: step.client.get(url, proxy)),
        ("delete", lambda: step.client.delete(url, proxy)),
    ):
        outcome = done()
        if not outcome:
            raise ProbeFailure(
                ErrorClass.AUTH_DENIED,
                f"refused a {what} with a VOMS proxy of {step.client.x509.vo}{outcome.via} ({outcome.value})",
            )
        if what == "read" and outcome.value != data:
            raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, f"read back {len(outcome.value)} other bytes")
    record.bytes = FILE_SIZE
    record.message = f"a VOMS proxy of {step.client.x509.vo} wrote, read back and deleted a file"


def _refused_a_write(step, record, kind: str, what: str):
    """The proxy of `kind` must be refused a write where the VO's proxy wrote."""
    step.needs("x509_chain")
    url, data = step.url(f"x509-{kind}.dat"), b"must be refused\n"
    try:
        outcome = step.client.put(url, step.proxy(kind), data)
    except ProbeFailure as e:
        if e.error_class in (ErrorClass.TIMEOUT, ErrorClass.UNREACHABLE):
            raise
        # Another answer than a refusal (a storage may say 404 or 500 to an identity it does not map): the
        # write was refused unless the file is there, as the VO's proxy sees it.
        outcome = Outcome(_written(step, url, data), f"answered {str(e).partition(': ')[2]}")
    if outcome:
        try:
            step.client.delete(url, step.proxy("proxy"))
        except (ProbeFailure, ProbeError):
            pass  # whatever the clean-up did, the finding is the write
        raise ProbeFailure(ErrorClass.SECURITY, f"let {what} write{outcome.via}")
    record.message = f"{what} was refused ({outcome.value})"


def _written(step, url: str, data: bytes) -> bool:
    try:
        return step.client.get(url, step.proxy("proxy")).value == data
    except ProbeFailure as e:
        if e.error_class == ErrorClass.NOT_FOUND:
            return False
        raise


def test_x509_expired(step, record):
    """A VOMS proxy of the VO whose validity ended is refused a write (in the handshake, or 401/403)."""
    if step.protocol in ROOT_PROTOCOLS:
        # XrdCl's gsi checks its own proxy first and sends none that expired: the storage is never asked.
        raise NotProbed("not tried: XrdCl sends no expired proxy, so over root:// only https can show it")
    _refused_a_write(step, record, "expired_proxy", "a proxy whose validity ended")


def test_x509_no_voms(step, record):
    """A proxy of the same certificate with no VOMS attributes is refused a write."""
    _refused_a_write(step, record, "no_voms_proxy", "a proxy with no VOMS attributes")


def test_x509_other_vo(step, record):
    """A VOMS proxy of another VO is refused a write."""
    _refused_a_write(step, record, "other_vo_proxy", "another VO's proxy")
