"""Requests made with an X.509 proxy as the TLS client certificate, no token: what a storage did with each.

A proxy file holds its certificate, its private key and the chain to the user certificate, as
voms-proxy-init writes it; it is read again at every request, so that a renewal off-line takes effect. A
storage refuses a proxy either in the TLS handshake (an alert: an expired proxy, an unknown CA) or in
its answer (401, 403): both are refusals here. Nothing of a proxy is ever in a message.
"""

import re

from lakeprobe.classify import classify
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ErrorClass, ProbeFailure
from lakeprobe.inventory import X509
from lakeprobe.protocols import https
from lakeprobe.protocols.base import Outcome
from lakeprobe.untrusted import inert

HTTPS_PROTOCOLS = ("davs", "https")
_REFUSED = (401, 403)
READ_BYTES = 2**20  # more than any file the checks write


class ProxyClient:
    def __init__(self, x509: X509, timeout_s: float):
        self.x509, self.timeout_s = x509, timeout_s

    def put(self, url: str, proxy: str, data: bytes) -> Outcome:
        return self._send("PUT", url, proxy, data=data)

    def get(self, url: str, proxy: str) -> Outcome:
        return self._send("GET", url, proxy, limit=READ_BYTES)

    def delete(self, url: str, proxy: str) -> Outcome:
        return self._send("DELETE", url, proxy)

    def _send(self, method: str, url: str, proxy: str, **kwargs) -> Outcome:
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


def refused_in_handshake(error: ProbeFailure) -> str:
    """Why the storage refused the client certificate in the TLS handshake ('' when it did not): TLS 1.3
    sends the alert after the handshake, which a client may see as the connection closed; the client's own
    verification of the storage is about the storage's certificate, not the proxy."""
    if error.error_class != ErrorClass.TLS or "CERTIFICATE_VERIFY_FAILED" in str(error):
        return ""
    return f"refused in the TLS handshake: {_tls_reason(str(error))}"


def _tls_reason(message: str) -> str:
    """The SSL error's own words, without the URL: `SSLV3_ALERT_CERTIFICATE_EXPIRED`, `SSLEOFError`..."""
    found = re.search(r"\[SSL: (\w+)\]|(SSL\w*Error)", message)
    return (found.group(1) or found.group(2)) if found else "the connection closed"
