"""What an authorization check concludes from what the storage did with a token."""

from lakeprobe.errors import ProbeFailure
from lakeprobe.records import ErrorClass


def must_allow(allowed, what: str):
    """The storage refused what the token's scope permits."""
    if not allowed:
        raise ProbeFailure(ErrorClass.AUTH_DENIED, f"refused {what}")


def must_refuse(allowed, what: str):
    """The storage let through what it must refuse: a security finding."""
    if allowed:
        raise ProbeFailure(ErrorClass.SECURITY, f"let through {what}")
