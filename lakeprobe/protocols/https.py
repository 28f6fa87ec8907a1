"""One HTTP request of lakeprobe's own (the checksum HEAD, the single-token requests), sent the way the
field's clients send it to a door that redirects (dCache, EOS, an XRootD manager):

- 301/302/303/307/308 are followed within https only, at most MAX_HOPS times; the token goes with each hop
  (XrdHttp also puts it into the Location as `authz=`; dCache and EOS hand out a URL that needs none);
- a redirect to plain http:// is a `security` finding and is not followed: the token never goes in clear;
  a redirect loop, or more hops than MAX_HOPS, is a `protocol_error`;
- the answer's body is read up to a bound (ANSWER_BYTES, or the caller's for a file's content): a giant or
  endless answer costs bounded memory, and the deadline of the call bounds its time.
"""

import os
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from lakeprobe.classify import classify
from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeFailure, scrub

MAX_HOPS = 5
ANSWER_BYTES = 64 * 2**10  # of an answer read for its status, headers and a reason
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Answer:
    status_code: int
    reason: str
    headers: requests.structures.CaseInsensitiveDict
    content: bytes
    hops: list[str]  # host:port of each server on the way, the first one too

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def via(self) -> str:
        """` (via door -> server)` when a door redirected, for a message; empty otherwise."""
        return f" (via {' -> '.join(self.hops)})" if len(self.hops) > 1 else ""


def request(method: str, url: str, token: str | None, timeout_s: float, limit: int = ANSWER_BYTES, **kwargs) -> Answer:
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    where = "https://" + url.split("://", 1)[1]
    seen: list[str] = []
    while True:
        seen.append(where)
        reply = _one(method, where, headers, timeout_s, url, **kwargs)
        hops = [urlsplit(u).netloc for u in seen]
        if reply.status_code not in REDIRECTS or "Location" not in reply.headers:
            return _answer(reply, hops, limit)
        reply.close()
        target = urljoin(where, reply.headers["Location"])
        parts = urlsplit(target)
        if parts.scheme != "https":
            raise ProbeFailure(
                E.SECURITY,
                f"{method} {url}: {hops[-1]} redirects to {parts.scheme}://{parts.netloc} (HTTP "
                f"{reply.status_code}): a downgrade from TLS; lakeprobe sends no token there",
            )
        if target in seen:
            raise ProbeFailure(
                E.PROTOCOL_ERROR, f"{method} {url}: a redirect loop ({' -> '.join(hops)} -> {parts.netloc})"
            )
        if len(seen) > MAX_HOPS:
            raise ProbeFailure(E.PROTOCOL_ERROR, f"{method} {url}: more than {MAX_HOPS} redirects")
        if reply.status_code == 303 and method != "HEAD":
            method, kwargs = "GET", {k: v for k, v in kwargs.items() if k != "data"}
        where = target


def _one(method: str, where: str, headers: dict, timeout_s: float, url: str, **kwargs) -> requests.Response:
    try:  # a connection of its own: a kept-alive one the server has just closed fails the request
        return requests.request(
            method,
            where,
            headers=headers,
            timeout=timeout_s,
            allow_redirects=False,
            stream=True,
            verify=os.environ.get("SSL_CERT_FILE") or True,
            **kwargs,
        )
    except requests.RequestException as e:
        reason = scrub(str(e))
        raise ProbeFailure(classify(reason), f"{method} {url}: {type(e).__name__}: {short(reason)}") from None


def _answer(reply: requests.Response, hops: list[str], limit: int) -> Answer:
    with reply:
        body = bytearray()
        try:
            for chunk in reply.iter_content(64 * 1024):
                body += chunk[: limit - len(body)]
                if len(body) >= limit:
                    break
        except requests.RequestException as e:
            raise ProbeFailure(
                classify(str(e)), f"reading the answer from {hops[-1]}: {short(scrub(str(e)))}"
            ) from None
    return Answer(reply.status_code, reply.reason or "", reply.headers, bytes(body), hops)


def short(reason: str) -> str:
    """The innermost reason of a requests/urllib3 error chain, not the pool's boilerplate."""
    found = re.findall(r"\(Caused by \w+\((.*)\)\)", reason)
    return (found[-1] if found else reason)[:200]
