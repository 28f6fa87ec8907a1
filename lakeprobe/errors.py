"""What a check can raise and the classes of what went wrong, and keeping secrets out of every message."""

import re
from enum import StrEnum

_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"(?i)(bearer\s+|authz=|access_token=)[^\s&\"']+")
# A macaroon quoted bare (v1 base64 starts "MDA", v2 "AgE"): long enough never to be a word or a path.
_MACAROON = re.compile(r"\b(MDA|AgE)[\w+/=-]{40,}")
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@")


class ErrorClass(StrEnum):
    """What went wrong, precisely: every record that is not a pass or a skip carries one."""

    NONE = ""
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    TLS = "tls"
    AUTH_DENIED = "auth_denied"
    PERMISSION = "permission"
    NO_SPACE = "no_space"
    NOT_FOUND = "not_found"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    CHECKSUM_UNSUPPORTED = "checksum_unsupported"
    CONTENT_MISMATCH = "content_mismatch"
    PROTOCOL_ERROR = "protocol_error"
    SECURITY = "security"
    SLOW = "slow"
    STUCK = "stuck"  # a Rucio rule not met in time
    NOT_DELETED = "not_deleted"  # a file Rucio should have deleted from the storage is still there
    NOT_CACHED = "not_cached"  # a cache served a second read from its origin, not from its copy
    STALE_COPY = "stale_copy"  # a cache served its old copy of a file after it should have dropped it
    UNKNOWN = "unknown"


def scrub(text: str) -> str:
    """No token or password ever reaches a record, a log or a report, even inside a server's message. NUL
    bytes go too: XRootD ends some messages with one, and no text column of a SQL sink takes it."""
    text = _JWT.sub("<token>", str(text))
    text = _BEARER.sub(r"\1<redacted>", text)
    text = _MACAROON.sub("<macaroon>", text)
    return _CREDENTIALS.sub(r"\1<redacted>@", text).replace("\x00", "")


class ProbeFailure(Exception):
    """The thing probed misbehaved: the check fails with this error class."""

    def __init__(self, error_class: str, message: str):
        super().__init__(scrub(message))
        self.error_class = ErrorClass(error_class)


class ProbeError(Exception):
    """Something the check depends on, other than what it probes, broke: the check is in error, and
    `blame` names what broke (a service such as the token issuer), when known."""

    def __init__(self, error_class: str, message: str, blame: str = ""):
        super().__init__(scrub(message))
        self.error_class = ErrorClass(error_class)
        self.blame = blame


class NotProbed(Exception):
    """The check cannot run for real this round (an endpoint it needs already failed): it is skipped, and
    the message names the root cause, not the step before it."""

    def __init__(self, message: str):
        super().__init__(scrub(message))


class InDowntime(NotProbed):
    """The check's RSE is in a declared downtime: recorded as downtime, not run."""
