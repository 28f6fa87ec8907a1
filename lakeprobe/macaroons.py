"""Macaroons asked of a storage as dCache and XRootD serve them: a POST of `application/macaroon-request` to
the path it is for, with the caveats and the validity wanted, authenticated with the requester's
credential (an X.509 proxy as the client certificate, or a bearer token). The answer is JSON with the
macaroon, which is then sent as a bearer token (`Authorization: Bearer`).

A macaroon is a secret: it is never in a message, a record or a log.
"""

import json
import re

from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ErrorClass, ProbeFailure
from lakeprobe.protocols import https
from lakeprobe.untrusted import inert
from lakeprobe.x509 import refused_in_handshake, usable

MAX_CHARS = 16 * 1024  # a macaroon with a few caveats is well under 1 KiB
# Base64 (v1 serialisation, URL-safe or not), or v2's JSON is not asked for: what a bearer header can hold.
_MACAROON = re.compile(r"^[A-Za-z0-9+/_=-]+$")


class Refused(ProbeFailure):
    """The storage answered the request with a 4xx: 401/403 are `auth_denied`; dCache says 400 to an
    anonymous request ("User not authenticated") or to a token it cannot restrict."""


def request(
    url: str, activities: str, validity_s: int, timeout_s: float, token: str | None = None, proxy: str | None = None
) -> str:
    """A macaroon for `url` (a directory ends with /) allowing `activities` (e.g. "DOWNLOAD,LIST") for
    `validity_s` seconds. A refusal is `auth_denied`; no macaroon in the answer, `protocol_error`."""
    if proxy:
        usable(proxy)
    body = json.dumps({"caveats": [f"activity:{activities}"], "validity": f"PT{validity_s}S"})
    headers = {"Content-Type": "application/macaroon-request"}

    def post():
        return https.request("POST", url, token, timeout_s, headers=headers, data=body, cert=proxy)

    try:
        reply = call_with_deadline(post, timeout_s, "a macaroon request")
    except ProbeFailure as e:
        if proxy and (refused := refused_in_handshake(e)):
            raise ProbeFailure(ErrorClass.AUTH_DENIED, f"a macaroon request to {url}: {refused}") from None
        raise
    what = f"a macaroon request to {url}{reply.via}"
    reason = inert(reply.text.strip(), 120)
    if reply.status_code in (401, 403):
        raise Refused(ErrorClass.AUTH_DENIED, f"{what}: refused (HTTP {reply.status_code} {reason})")
    if 400 <= reply.status_code < 500:
        raise Refused(ErrorClass.PROTOCOL_ERROR, f"{what}: HTTP {reply.status_code} {reason}")
    if reply.status_code >= 300:
        raise ProbeFailure(ErrorClass.PROTOCOL_ERROR, f"{what}: HTTP {reply.status_code} {reason}")
    try:
        macaroon = json.loads(reply.content).get("macaroon")
    except (ValueError, AttributeError):
        macaroon = None
    if not isinstance(macaroon, str) or len(macaroon) > MAX_CHARS or not _MACAROON.match(macaroon):
        raise ProbeFailure(ErrorClass.PROTOCOL_ERROR, f"{what}: the answer holds no macaroon")
    return macaroon
