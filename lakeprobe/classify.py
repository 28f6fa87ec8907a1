"""Turning what a storage client says into one precise error class.

The messages differ between clients (gfal2/davix, XrdCl, requests) and storage implementations; the table
below is ordered (the first pattern that matches decides) and every pattern is covered by a row of
tests/test_classify.py, built from messages captured from real failures.
"""

import errno
import re

from lakeprobe.errors import ErrorClass as E

_PATTERNS: tuple[tuple[E, str], ...] = (
    (E.TIMEOUT, r"timed? ?out|deadline|operation expired|\[3010\].*expired|ETIMEDOUT"),
    (E.TLS, r"certificate|ssl|tls|x509|handshake|wrong version number"),
    # Asked for adler32, the storage has another algorithm: not a corruption (davix; XrdCl via gfal2).
    (
        E.CHECKSUM_UNSUPPORTED,
        r"checksum calculation for \w+ not supported|got '\w+' while expecting|"
        r"checksum type \S+ (is )?not supported|unsupported checksum",
    ),
    (E.NO_SPACE, r"no space|insufficient storage|\b507\b|disk quota|ENOSPC|out of space"),
    # XRootD reports a write to a read-only export as ENODEV ("No such device") over root://.
    (E.PERMISSION, r"read[/ -]?only|r/o\b|EROFS|no such device"),
    (E.CHECKSUM_MISMATCH, r"checksum.*(mismatch|do not match|differ)|(mismatch|differ).*checksum|checksum error"),
    (
        E.AUTH_DENIED,
        r"\b40[13]\b|permission (denied|refused)|unauthori[sz]ed|forbidden|auth failed|"
        r"no protocols left|not authorized|authentication",
    ),
    # An XRootD cluster's manager says [3011] when no data server has the file: how a cluster says not found.
    (E.NOT_FOUND, r"\b404\b|no such file|not found|unable to locate|ENOENT|\[3011\]|no servers are available"),
    (
        E.UNREACHABLE,
        r"connection refused|couldn't connect|could not connect|unreachable|no route|"
        r"connection reset|connection error|name or service not known|name resolution|"
        r"failed to resolve|invalid address|socket error|ECONNREFUSED|broken pipe",
    ),
    # A COPY the server does not understand is answered 400 (XrdHttp without its TPC handler).
    # XrdHttp drops the connection when a PUT fails on the server side (ENOSPC among others): no answer.
    (
        E.PROTOCOL_ERROR,
        r"closed by server|returned nothing|not supported|unsupported|\b405\b|\b501\b|"
        r"invalid exchange|protocol|copy failed.*http 400|third-party-copy",
    ),
)
_ERRNO = {
    errno.ETIMEDOUT: E.TIMEOUT,
    errno.ECONNREFUSED: E.UNREACHABLE,
    errno.EHOSTUNREACH: E.UNREACHABLE,
    errno.ENOSPC: E.NO_SPACE,
    errno.EDQUOT: E.NO_SPACE,
    errno.EROFS: E.PERMISSION,
    errno.ENOENT: E.NOT_FOUND,
    errno.EACCES: E.AUTH_DENIED,
    errno.EPERM: E.AUTH_DENIED,
    errno.ENOTSUP: E.PROTOCOL_ERROR,
}

_URL = re.compile(r"\b[a-z]+://\S+|(/[\w.-]+){2,}")


def classify(message: str, code: int | None = None) -> E:
    message = _URL.sub(" ", message)  # paths and URLs name things; they must not decide the class
    for error_class, pattern in _PATTERNS:
        if re.search(pattern, message, re.IGNORECASE):
            return error_class
    return _ERRNO.get(code or 0, E.UNKNOWN)
