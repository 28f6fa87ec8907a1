"""Requests made with an X.509 proxy and no token: what a storage did with each. Over https the proxy is the
TLS client certificate; over root:// it is gsi's credential (XrdCl, X509_USER_PROXY).

A proxy file holds its certificate, its private key and the chain to the user certificate, as
voms-proxy-init writes it; it is read again at every request, so that a renewal off-line takes effect. A
storage refuses a proxy in the TLS handshake (an alert: an expired proxy, an unknown CA), in its answer
(401, 403) or, over root://, in the login or the request (permission denied): all are refusals here.
Nothing of a proxy is ever in a message.
"""

import datetime
import re
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from lakeprobe.classify import classify
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ErrorClass, ProbeError, ProbeFailure
from lakeprobe.inventory import X509, proxy_end
from lakeprobe.protocols import https, xrdcli
from lakeprobe.protocols.base import Outcome
from lakeprobe.untrusted import inert

HTTPS_PROTOCOLS = ("davs", "https")
ROOT_PROTOCOLS = ("root", "roots")
X509_PROTOCOLS = (*HTTPS_PROTOCOLS, *ROOT_PROTOCOLS)
_REFUSED = (401, 403)
READ_BYTES = 2**20  # more than any file the checks write


class ProxyClient:
    def __init__(self, x509: X509, timeout_s: float):
        self.x509, self.timeout_s = x509, timeout_s

    def put(self, url: str, proxy: str, data: bytes) -> Outcome:
        if _over_root(url):
            return self._xrd(["xrdcp", "-s", "-f", "-", xrdcli.plain(url)], proxy, data)
        return self._send("PUT", url, proxy, data=data)

    def get(self, url: str, proxy: str) -> Outcome:
        if _over_root(url):
            return self._xrd(["xrdcp", "-s", "-f", xrdcli.plain(url), "-"], proxy)
        return self._send("GET", url, proxy, limit=READ_BYTES)

    def delete(self, url: str, proxy: str) -> Outcome:
        if _over_root(url):
            return self._xrd(["xrdfs", xrdcli.server(url), "rm", xrdcli.path(url)], proxy)
        return self._send("DELETE", url, proxy)

    def _xrd(self, argv: list[str], proxy: str, stdin: bytes = b"") -> Outcome:
        try:
            done = xrdcli.run(argv, None, self.timeout_s, stdin, proxy=proxy)
        except ProbeFailure as e:
            if e.error_class != ErrorClass.AUTH_DENIED:
                raise
            said = str(e).partition(": ")[2].removeprefix("[ERROR] Server responded with an error: ")
            return Outcome(False, inert(said, 160))  # XrdCl's words, without the URL
        assert done is not None
        return Outcome(True, done.stdout)

    def _send(self, method: str, url: str, proxy: str, **kwargs) -> Outcome:
        usable(proxy)

        def send():
            return https.request(method, url, None, self.timeout_s, cert=proxy, **kwargs)

        try:
            reply = call_with_deadline(send, self.timeout_s, f"an X.509 {method}")
        except ProbeFailure as e:
            if refused := refused_in_handshake(e):
                return Outcome(False, refused)
            raise
        if reply.status_code in _REFUSED:
            return Outcome(False, f"HTTP {reply.status_code}", reply.via)
        if reply.status_code >= 300:
            reason = f"HTTP {reply.status_code} {inert(reply.text.strip(), 120)}"
            raise ProbeFailure(classify(reason), f"{method} {url}{reply.via}: {reason}")
        return Outcome(True, reply.content, reply.via)


def usable(proxy: str):
    """A proxy this client can present at all: one it cannot load (a key too small for the local OpenSSL, a
    key that is not the certificate's) would fail every request here, and look like the storage's refusal.
    That is lakeprobe's own error."""
    try:
        ssl.create_default_context().load_cert_chain(proxy)
    except (ssl.SSLError, OSError) as e:
        raise ProbeError(ErrorClass.TLS, f"this client cannot present the proxy {proxy}: {e}", "lakeprobe") from None


def unexpired(proxy: str):
    """The probe's own proxy, renewed off-line, may be late: then the checks that need it are in error."""
    ends = proxy_end(Path(proxy))
    if ends <= datetime.datetime.now(datetime.UTC):
        message = f"the probe's proxy {proxy} expired at {ends:%Y-%m-%d %H:%M} UTC: renew it (voms-proxy-init)"
        raise ProbeError(ErrorClass.AUTH_DENIED, message, "lakeprobe")


def _over_root(url: str) -> bool:
    return urlsplit(url).scheme in ROOT_PROTOCOLS


def refused_in_handshake(error: ProbeFailure) -> str:
    """Why the storage refused the client certificate in the TLS handshake ('' when it did not): TLS 1.3
    sends the alert after the handshake, which a client may see as the connection closed; the client's own
    verification of the storage is about the storage's certificate, not the proxy. A connection refused
    or a name not found is no such refusal: nothing was asked of the storage."""
    said = str(error)
    closed = error.error_class == ErrorClass.UNREACHABLE and re.search(r"(?i)reset by peer|broken ?pipe", said)
    if not (error.error_class == ErrorClass.TLS or closed) or "CERTIFICATE_VERIFY_FAILED" in said:
        return ""
    return f"refused in the TLS handshake: {_tls_reason(said)}"


def _tls_reason(message: str) -> str:
    """The SSL error's own words, without the URL: `SSLV3_ALERT_CERTIFICATE_EXPIRED`, `SSLEOFError`..."""
    found = re.search(r"\[SSL: (\w+)\]", message) or re.search(r"(SSL\w*Error)", message)
    return found.group(1) if found else "the connection closed"
