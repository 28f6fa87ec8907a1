"""The first link of every chain: can we reach the endpoint, and is its certificate good?

davs: a TLS handshake verified against X509_CERT_DIR; a certificate expiring within 14 days is a warning.
root: an XRootD ping with the probe token (handshake, TLS upgrade, ztn login).
"""
import datetime
import os
import socket
import ssl
import time

from XRootD import client as xrd_client

from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ProbeFailure, classify

CERT_WARN_DAYS = 14


def check(url: str, protocol: str, timeout_s: float, token: str | None) -> dict:
    """{"status": pass|warn|fail, "error_class", "message", "duration_s"}; never raises."""
    started = time.monotonic()
    try:
        if protocol == "davs":
            message = call_with_deadline(lambda: _tls(url, timeout_s), timeout_s, f"TLS handshake {url}")
        else:
            message = call_with_deadline(lambda: _xrootd_ping(url, timeout_s, token), timeout_s, f"ping {url}")
        status, error_class = ("warn" if message else "pass"), ""
    except ProbeFailure as e:
        status, error_class, message = "fail", e.error_class, str(e)
    return {"status": status, "error_class": error_class, "message": message,
            "duration_s": round(time.monotonic() - started, 4)}


def _host_port(url: str) -> tuple[str, int]:
    hostport = url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    return host, int(port)


def _tls(url: str, timeout_s: float) -> str:
    host, port = _host_port(url)
    context = ssl.create_default_context(capath=os.environ.get("X509_CERT_DIR") or None)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                not_after = tls.getpeercert()["notAfter"]
    except ssl.SSLCertVerificationError as e:
        raise ProbeFailure("tls", f"certificate of {host}:{port} rejected: {e.verify_message}") from None
    except ssl.SSLError as e:
        raise ProbeFailure("tls", f"TLS with {host}:{port} failed: {e.reason}") from None
    except socket.timeout:
        raise ProbeFailure("timeout", f"{host}:{port} did not complete a TLS handshake in {timeout_s:g} s") from None
    except OSError as e:
        raise ProbeFailure(classify(str(e), e.errno), f"cannot connect to {host}:{port}: {e.strerror or e}") from None
    expires = datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), datetime.timezone.utc)
    days = (expires - datetime.datetime.now(datetime.timezone.utc)).days
    return f"certificate expires in {days} days ({expires:%Y-%m-%d})" if days < CERT_WARN_DAYS else ""


def _xrootd_ping(url: str, timeout_s: float, token: str | None) -> str:
    if token:
        os.environ["BEARER_TOKEN"] = token
    host, port = _host_port(url)
    status, _ = xrd_client.FileSystem(f"root://{host}:{port}").ping(timeout=max(1, int(timeout_s)))
    if not status.ok:
        raise ProbeFailure(classify(status.message, status.errno), f"ping {host}:{port}: {status.message.strip()}")
    return ""
