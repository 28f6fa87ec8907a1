"""One storage request with exactly the token given (or none), to see what the storage lets through.

The authorization checks must know which token a request carries, so they do not go through gfal2 (which
takes root:// tokens from the process environment and keeps credentials per host). davs is one plain HTTP
request; root:// is one xrdfs/xrdcp process whose environment holds that token alone: XrdCl keeps one login
per host for the life of a process, and ztn reads the token at login. A request without a token offers no
token protocol at all (XrdSecPROTOCOL=unix), so no token file lying around can make it less anonymous.

Each method answers True (allowed) or False (refused: HTTP 401/403, an authorization error over root://);
any other outcome (timeout, refused connection, a missing file) raises ProbeFailure with its class.
"""
import os
import re
import subprocess
from urllib.parse import quote

import requests

from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ProbeFailure, classify, scrub

_TOKEN_VARS = ("BEARER_TOKEN", "BEARER_TOKEN_FILE", "XrdSecTOKEN", "XrdSecPROTOCOL")


class Access:
    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s

    # -- what the checks ask ---------------------------------------------------------------------------
    def read(self, url: str, token: str | None) -> bytes | None:
        """The file's bytes, or None when refused."""
        if url.startswith("davs://"):
            reply = self._http("GET", url, token)
            return reply.content if reply is not None else None
        done = self._root(["xrdcp", "-s", "-f", _xrd_url(url), "-"], token)
        return done.stdout if done is not None else None

    def write(self, url: str, token: str | None, data: bytes, overwrite: bool = False) -> bool:
        if url.startswith("davs://"):
            return self._http("PUT", url, token, data=data) is not None
        return self._root(["xrdcp", "-s", *(["-f"] if overwrite else []), "-", _xrd_url(url)], token, data) is not None

    def delete(self, url: str, token: str | None) -> bool:
        if url.startswith("davs://"):
            return self._http("DELETE", url, token) is not None
        host, path = _host_path(url)
        return self._root(["xrdfs", host, "rm", path], token) is not None

    def listing(self, url: str, token: str | None) -> list[str] | None:
        """Names in the directory, or None when refused."""
        if url.startswith("davs://"):
            reply = self._http("PROPFIND", url.rstrip("/") + "/", token, headers={"Depth": "1"})
            if reply is None:
                return None
            return [href.rstrip("/").rsplit("/", 1)[-1] for href in _hrefs(reply.text)][1:]
        host, path = _host_path(url)
        done = self._root(["xrdfs", host, "ls", path], token)
        return None if done is None else [line.rsplit("/", 1)[-1] for line in done.stdout.decode().split()]

    def move(self, url: str, to_url: str, token: str | None) -> bool:
        if url.startswith("davs://"):
            destination = "https://" + to_url.split("://", 1)[1]
            return self._http("MOVE", url, token, headers={"Destination": destination}) is not None
        host, path = _host_path(url)
        return self._root(["xrdfs", host, "mv", path, _host_path(to_url)[1]], token) is not None

    # -- davs ----------------------------------------------------------------------------------------
    def _http(self, method: str, url: str, token: str | None, headers: dict | None = None, data: bytes = b""):
        """The reply when the storage did what was asked, None when it refused on authorization grounds."""
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        https = "https://" + url.split("://", 1)[1]

        def send():
            return requests.request(method, https, headers=headers, data=data or None, timeout=self.timeout_s,
                                    verify=os.environ.get("SSL_CERT_FILE") or True, allow_redirects=False)
        try:
            reply = call_with_deadline(send, self.timeout_s, f"{method} {url}")
        except requests.RequestException as e:
            raise ProbeFailure(classify(str(e)), f"{method} {url}: {type(e).__name__}") from None
        if reply.status_code in (401, 403):
            return None
        if reply.status_code >= 300:
            reason = f"HTTP {reply.status_code} {reply.text.strip()[:120]}"
            raise ProbeFailure(classify(reason), f"{method} {url}: {reason}")
        return reply

    # -- root:// -------------------------------------------------------------------------------------
    def _root(self, argv: list[str], token: str | None, stdin: bytes = b""):
        env = {k: v for k, v in os.environ.items() if k not in _TOKEN_VARS}
        env.update(XRD_CONNECTIONRETRY="1", XRD_REQUESTTIMEOUT=str(max(1, int(self.timeout_s))))
        if token:
            env.update(BEARER_TOKEN=token, XrdSecPROTOCOL="ztn")
        else:
            env["XrdSecPROTOCOL"] = "unix"
        try:
            done = subprocess.run(argv, input=stdin, env=env, capture_output=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise ProbeFailure("timeout", f"{argv[0]} {argv[-1]}: no answer within {self.timeout_s:g} s") from None
        if done.returncode == 0:
            return done
        message = scrub(done.stderr.decode(errors="replace").strip().splitlines()[-1] if done.stderr.strip()
                        else f"exit code {done.returncode}")
        error_class = classify(message)
        if error_class == "auth_denied":
            return None
        raise ProbeFailure(error_class, f"{argv[0]} {argv[-1] if argv[0] == 'xrdcp' else argv[2]}: {message}")


def _host_path(url: str) -> tuple[str, str]:
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}", "/" + path.lstrip("/")


def _xrd_url(url: str) -> str:
    host, path = _host_path(url)
    return f"{host}/{quote(path)}"


def _hrefs(multistatus: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?href>([^<]+)</(?:\w+:)?href>", multistatus, re.IGNORECASE)


def must_allow(allowed, what: str):
    """The storage refused what the token's scope permits."""
    if not allowed:
        raise ProbeFailure("auth_denied", f"refused {what}")


def must_refuse(allowed, what: str):
    """The storage let through what it must refuse: a security finding."""
    if allowed:
        raise ProbeFailure("security", f"let through {what}")
