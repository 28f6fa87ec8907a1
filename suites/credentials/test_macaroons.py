"""Macaroons, per RSE x https protocol the inventory marks `macaroons: true`: the storage issues one for the
check's directory (`macaroon_issue`), a DOWNLOAD macaroon reads the file there (`macaroon_read`), and its
caveats hold (`macaroon_caveats`): it cannot upload or delete, reads nothing outside its path, is refused
once expired, and one asked for with no credential reads nothing.

The requester is the probe's VOMS proxy where the RSE also takes X.509 (`x509: true`), else its token:
XRootD before 5.6 grants a macaroon asked for with a token no more than metadata."""

import time

from lakeprobe.errors import ErrorClass, ProbeFailure
from lakeprobe.macaroons import Refused
from lakeprobe.x509 import HTTPS_PROTOCOLS

RSES_WITH = "macaroons"  # the RSEs these checks run on: those marked `macaroons: true`
PROTOCOLS = HTTPS_PROTOCOLS  # macaroons are HTTP's
CONTENT = b"read with a macaroon\n"
EXPIRED_AFTER_S = 1  # the validity of the macaroon shown refused once it has passed


def _request(step, activities: str, validity_s: int, anonymous: bool = False) -> str:
    return step.ask_macaroon(step.url(""), activities, validity_s, anonymous)


def _outside(step) -> str:
    """A file beside the check's directory, which its macaroons do not reach."""
    return step.directory.rsplit("/", 1)[0] + "/macaroons-outside.dat"


def test_macaroon_issue(step, record):
    """The storage issues a DOWNLOAD,LIST macaroon for the check's directory, valid 10 minutes, to the
    probe's proxy (or token); a file is put there first, with the probe's token, for the reads after."""
    for url in (step.url("data.dat"), _outside(step)):
        if not step.with_bearer("write", url, step.token, CONTENT):
            raise ProbeFailure(ErrorClass.AUTH_DENIED, "refused the probe's token a write in its own area")
    step.macaroon = _request(step, "DOWNLOAD,LIST", 600)
    by = "VOMS proxy" if step.rse.x509 else "token"
    record.message = f"issued a DOWNLOAD,LIST macaroon for the check's directory to the probe's {by}"


def test_macaroon_read(step, record):
    """The DOWNLOAD macaroon reads the file of its directory, byte for byte."""
    step.needs("macaroon_issue")
    done = step.with_bearer("read", step.url("data.dat"), step.macaroon)
    if not done:
        raise ProbeFailure(ErrorClass.AUTH_DENIED, f"refused a read with its own DOWNLOAD macaroon{done.via}")
    if done.value != CONTENT:
        raise ProbeFailure(ErrorClass.CONTENT_MISMATCH, f"read {len(done.value)} other bytes with the macaroon")
    record.message = "its DOWNLOAD macaroon read the file of its directory"


def test_macaroon_caveats(step, record):
    """A DOWNLOAD macaroon cannot upload or delete, and reads nothing outside its directory; one expired,
    and one asked for with no credential, read nothing. Any of these let through is `security`."""
    step.needs("macaroon_read")
    expired = _request(step, "DOWNLOAD,LIST", EXPIRED_AFTER_S)
    time.sleep(EXPIRED_AFTER_S + 1)
    trials = [
        ("uploads", lambda: step.with_bearer("write", step.url("upload.dat"), step.macaroon, CONTENT)),
        ("reads outside its path", lambda: step.with_bearer("read", _outside(step), step.macaroon)),
        ("reads once expired", lambda: step.with_bearer("read", step.url("data.dat"), expired)),
    ]
    try:
        anonymous = _request(step, "DOWNLOAD,LIST", 600, anonymous=True)
    except Refused:  # 401/403, or dCache's 400 "User not authenticated"
        refused_anonymous = "none issued to an anonymous request"
    else:
        trials.append(
            ("reads, asked for with no credential", lambda: step.with_bearer("read", step.url("data.dat"), anonymous))
        )
        refused_anonymous = "one asked for with no credential reads nothing"
    # The delete last: the reads before it need the file.
    trials.append(("deletes", lambda: step.with_bearer("delete", step.url("data.dat"), step.macaroon)))
    let_through: list[str] = []
    for what, trial in trials:
        try:
            if trial():
                let_through.append(what)
        except ProbeFailure:
            if not let_through:
                raise
            break  # what was let through is the finding
    if let_through:
        raise ProbeFailure(ErrorClass.SECURITY, f"a DOWNLOAD macaroon {', '.join(let_through)}")
    record.message = (
        f"a DOWNLOAD macaroon cannot upload, delete, read outside its path or once expired; {refused_anonymous}"
    )
