"""Reaching an endpoint and checking its certificate, with a precise diagnosis of what went wrong.

Storage clients say little when a connection fails: XrdCl answers "TLS error: resource temporarily
unavailable" alike for an unknown CA and an expired certificate, "Invalid address" for a host name that does
not resolve; davix says "wrong version number" for a port that speaks plain HTTP. This module does the
connection itself (a TCP connect, for root:// the XRootD handshake that switches to TLS, then the TLS
handshake verified against the CAs the probes trust) and names the cause the way a site admin says it:
"host name ... does not resolve", "certificate not trusted (unknown CA: ...)", "certificate expired on
2026-11-24", "the port speaks plain HTTP, not TLS".
"""

import datetime
import os
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeFailure

CERT_WARN_DAYS = 14
# What a server that refuses a client's address after accepting the connection (XRootD's xrd.allow, a
# firewall that resets) looks like from the client.
CLOSED_AT_ONCE = "closed the connection at once, saying nothing: it does not admit clients from this address"


@dataclass
class Certificate:
    subject: str
    issuer: str
    not_after: datetime.datetime

    def warning(self, now: datetime.datetime | None = None) -> str:
        days = (self.not_after - (now or datetime.datetime.now(datetime.UTC))).days
        return f"certificate expires in {days} days ({self.not_after:%Y-%m-%d})" if days < CERT_WARN_DAYS else ""


def handshake(
    host: str,
    port: int,
    timeout_s: float,
    starttls: Callable[[socket.socket, float], bool] | None = None,
    address: str | None = None,
) -> Certificate | None:
    """Connect (to `address`, one of the host's, when given), switch to TLS (for a protocol that starts in
    plain text, `starttls` does its part and says whether the server wants TLS at all) and verify the
    certificate against the host name; None when the server offers no TLS."""
    with _connect(host, port, timeout_s, address) as raw:
        if starttls is not None and not starttls(raw, timeout_s):
            return None
        try:
            with _context().wrap_socket(raw, server_hostname=host) as tls:
                return _certificate(tls.getpeercert(binary_form=True))
        except ssl.SSLCertVerificationError as e:
            why = _why_untrusted(e, host, port, timeout_s, starttls, address)
            raise ProbeFailure(E.TLS, f"{host}:{port}: {why}") from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
            raise ProbeFailure(
                E.UNREACHABLE, f"{host}:{port}{' at ' + address if address else ''} {CLOSED_AT_ONCE}"
            ) from None
        except ssl.SSLError as e:
            if starttls is None and _speaks_plain_http(host, port, timeout_s, address):
                raise ProbeFailure(E.TLS, f"{host}:{port}: the port speaks plain HTTP, not TLS") from None
            raise ProbeFailure(E.TLS, f"TLS handshake with {host}:{port} failed: {e.reason or e}") from None
        except TimeoutError:
            raise ProbeFailure(
                E.TIMEOUT, f"{host}:{port} did not complete a TLS handshake in {timeout_s:g} s"
            ) from None
        except OSError as e:
            raise ProbeFailure(
                E.UNREACHABLE, f"{host}:{port} closed the connection during the TLS handshake ({e.strerror or e})"
            ) from None


def handshake_any(
    host: str, port: int, timeout_s: float, starttls: Callable[[socket.socket, float], bool] | None = None
) -> Certificate | None:
    """handshake(), trying the host's addresses in turn past one that does not admit us, as XrdCl does (davix
    and curl do not: a davs client stays with the address it reached)."""
    try:
        found = [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except socket.gaierror:
        raise ProbeFailure(E.UNREACHABLE, f"host name {host} does not resolve") from None
    first_failure = None
    for address in dict.fromkeys(found):
        try:
            return handshake(host, port, timeout_s, starttls, address)
        except ProbeFailure as e:
            if e.error_class != E.UNREACHABLE:
                raise
            first_failure = first_failure or e
    assert first_failure is not None
    raise first_failure


def _context() -> ssl.SSLContext:
    return ssl.create_default_context(capath=os.environ.get("X509_CERT_DIR") or None)


def _connect(host: str, port: int, timeout_s: float, address: str | None = None) -> socket.socket:
    where = f"{host}:{port}" + (f" at {address}" if address else "")
    if address is None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise ProbeFailure(E.UNREACHABLE, f"host name {host} does not resolve") from None
    try:
        return socket.create_connection((address or host, port), timeout=timeout_s)
    except TimeoutError:
        raise ProbeFailure(E.TIMEOUT, f"{where} did not accept a connection within {timeout_s:g} s") from None
    except ConnectionRefusedError:
        raise ProbeFailure(E.UNREACHABLE, f"{where} refuses connections (nothing listens there)") from None
    except OSError as e:
        raise ProbeFailure(E.UNREACHABLE, f"cannot connect to {where}: {e.strerror or e}") from None


def _certificate(der: bytes | None) -> Certificate:
    cert = x509.load_der_x509_certificate(der or b"")
    return Certificate(_cn(cert.subject), _cn(cert.issuer), cert.not_valid_after_utc)


def _cn(name: x509.Name) -> str:
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else name.rfc4514_string()


def _why_untrusted(
    error: ssl.SSLCertVerificationError, host: str, port: int, timeout_s: float, starttls, address: str | None
) -> str:
    seen = _unverified(host, port, timeout_s, starttls, address)
    code = error.verify_code
    if code == 10 and seen:  # X509_V_ERR_CERT_HAS_EXPIRED
        return f"certificate expired on {seen.not_after:%Y-%m-%d} ({seen.subject})"
    if code == 9 and seen:
        return f"certificate not valid yet ({seen.subject})"
    if code in (2, 19, 20, 21):  # no local issuer, self-signed CA in the chain
        return f"certificate not trusted (unknown CA: {seen.issuer if seen else 'not in the trusted CAs'})"
    if code == 18:
        return "certificate not trusted (self-signed)"
    if code == 62:
        return f"certificate does not name host {host} ({seen.subject if seen else error.verify_message})"
    return f"certificate rejected: {error.verify_message}"


def _unverified(host: str, port: int, timeout_s: float, starttls, address: str | None) -> Certificate | None:
    """The certificate as presented, to say what is wrong with it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection((address or host, port), timeout=timeout_s) as raw:
            if starttls is not None and not starttls(raw, timeout_s):
                return None
            with context.wrap_socket(raw, server_hostname=host) as tls:
                return _certificate(tls.getpeercert(binary_form=True))
    except (OSError, ProbeFailure, ValueError):
        return None


def _speaks_plain_http(host: str, port: int, timeout_s: float, address: str | None) -> bool:
    try:
        with socket.create_connection((address or host, port), timeout=timeout_s) as s:
            s.sendall(b"HEAD / HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
            return s.recv(5) == b"HTTP/"
    except OSError:
        return False


# -- the XRootD handshake up to TLS (XProtocol.hh: ClientInitHandShake, kXR_protocol) ------------------
_KXR_PROTOCOL, _PROTOCOL_VERSION = 3006, 0x511
_ABLE_TLS, _WANT_TLS, _EXPECT_LOGIN = 0x02, 0x04, 0x03
_GOTO_TLS = 0x40000000


def xrootd_starttls(sock: socket.socket, timeout_s: float) -> bool:
    """Send the XRootD handshake and a kXR_protocol request saying we can and want TLS; True when the
    server answers that the connection now switches to TLS, False when it does not do TLS."""
    sock.settimeout(timeout_s)
    handshake_bytes = struct.pack(">5i", 0, 0, 0, 4, 2012)
    request = struct.pack(
        ">2sHiBB10si", b"\0\1", _KXR_PROTOCOL, _PROTOCOL_VERSION, _ABLE_TLS | _WANT_TLS, _EXPECT_LOGIN, b"\0" * 10, 0
    )
    try:
        sock.sendall(handshake_bytes + request)
        first = sock.recv(8, socket.MSG_PEEK)
        if not first:
            raise ProbeFailure(E.UNREACHABLE, f"the server {CLOSED_AT_ONCE}")
        _response(sock)  # to the handshake: protocol version and server type
        status, body = _response(sock)
    except TimeoutError:
        raise ProbeFailure(E.TIMEOUT, f"no XRootD handshake answer within {timeout_s:g} s") from None
    except ConnectionResetError:
        raise ProbeFailure(E.UNREACHABLE, f"the server {CLOSED_AT_ONCE}") from None
    except (OSError, EOFError, struct.error):
        raise ProbeFailure(E.PROTOCOL_ERROR, "the port does not speak XRootD (no handshake answer)") from None
    if status != 0 or len(body) < 8:
        raise ProbeFailure(E.PROTOCOL_ERROR, f"unexpected XRootD protocol answer (status {status})")
    return bool(struct.unpack(">ii", body[:8])[1] & _GOTO_TLS)


def _response(sock: socket.socket) -> tuple[int, bytes]:
    _, status, length = struct.unpack(">2sHi", _exactly(sock, 8))
    if not 0 <= length <= 65536:
        raise EOFError("implausible length")
    return status, _exactly(sock, length)


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("closed")
        data += chunk
    return data
