"""What an authorization check concludes from what the storage did with a token."""

from lakeprobe.errors import ErrorClass, ProbeFailure
from lakeprobe.protocols.base import Outcome


def must_allow(done: Outcome, what: str):
    """The storage refused what the token's scope permits."""
    if not done:
        raise ProbeFailure(ErrorClass.AUTH_DENIED, f"refused {what}{done.via}")


def must_refuse(done: Outcome, what: str):
    """The storage let through what it must refuse: a security finding."""
    if done:
        raise ProbeFailure(ErrorClass.SECURITY, f"let through {what}{done.via}")
