"""Turning what a storage client says into one precise error class, and keeping secrets out of messages."""
import errno
import re

_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"(?i)(bearer\s+|authz=|access_token=)[^\s&\"']+")


class ProbeFailure(Exception):
    """The storage misbehaved: the check fails with this error class."""

    def __init__(self, error_class: str, message: str):
        super().__init__(scrub(message))
        self.error_class = error_class


class ProbeError(Exception):
    """Something the check depends on, other than the storage under test, broke (for example the issuer)."""

    def __init__(self, error_class: str, message: str):
        super().__init__(scrub(message))
        self.error_class = error_class


def scrub(text: str) -> str:
    """No token ever reaches a record, a log or a report, even inside a server's error message. NUL bytes
    go too: XRootD ends some messages with one, and no text column of a SQL sink takes it."""
    return _BEARER.sub(r"\1<redacted>", _JWT.sub("<token>", str(text))).replace("\x00", "")


# Ordered: the first pattern that matches decides. Server messages differ between protocols and storage
# implementations; each line names what it was seen as.
_PATTERNS = (
    ("timeout", r"timed? ?out|deadline|operation expired|\[3010\].*expired|ETIMEDOUT"),
    ("tls", r"certificate|ssl|tls|x509|handshake"),
    ("no_space", r"no space|insufficient storage|\b507\b|disk quota|ENOSPC|out of space"),
    # XRootD reports a write to a read-only export as ENODEV ("No such device") over root://.
    ("permission", r"read[/ -]?only|r/o\b|EROFS|no such device"),
    ("checksum_mismatch", r"checksum.*(mismatch|do not match|differ)|(mismatch|differ).*checksum|checksum error"),
    ("auth_denied", r"\b40[13]\b|permission (denied|refused)|unauthori[sz]ed|forbidden|auth failed|"
                    r"no protocols left|not authorized|authentication"),
    ("not_found", r"\b404\b|no such file|not found|unable to locate|ENOENT"),
    ("unreachable", r"connection refused|couldn't connect|could not connect|unreachable|no route|"
                    r"connection reset|connection error|name or service not known|socket error|ECONNREFUSED|"
                    r"broken pipe"),
    # A COPY the server does not understand is answered 400 (XrdHttp without its TPC handler).
    # XrdHttp drops the connection when a PUT fails on the server side (ENOSPC among others): no answer.
    ("protocol_error", r"closed by server|returned nothing|not supported|unsupported|\b405\b|\b501\b|invalid exchange|protocol|"
                       r"copy failed.*http 400"),
)
_ERRNO = {errno.ETIMEDOUT: "timeout", errno.ECONNREFUSED: "unreachable", errno.EHOSTUNREACH: "unreachable",
          errno.ENOSPC: "no_space", errno.EDQUOT: "no_space", errno.EROFS: "permission", errno.ENOENT: "not_found",
          errno.EACCES: "auth_denied", errno.EPERM: "auth_denied", errno.ENOTSUP: "protocol_error"}


_URL = re.compile(r"\b[a-z]+://\S+|(/[\w.-]+){2,}")


def classify(message: str, code: int | None = None) -> str:
    message = _URL.sub(" ", message)  # paths and URLs name things; they must not decide the class
    for error_class, pattern in _PATTERNS:
        if re.search(pattern, message, re.IGNORECASE):
            return error_class
    return _ERRNO.get(code, "unknown")
