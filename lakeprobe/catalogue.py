"""The lake's Rucio as its users meet it: the Rucio client API in-process, every call under the run's
deadline, and whatever goes wrong told apart by whose it is.

- The catalogue's own failure (server down, slow, refusing our identity) is an `error` blamed on Rucio: no
  storage is at fault.
- A transfer that Rucio's client made and the storage refused is a `fail` of the RSE, classified from what
  the storage said. The upload and download clients keep that to their log and raise a generic exception,
  so each call gets a log of its own and the failure is read from it.

Identity. With `auth: token` the probe's token from the issuer is also its Rucio identity (Rucio accepts the
issuer's JWTs), renewed in the background by the TokenProvider and handed to the client before every call:
the token is never the bottleneck and never expires mid-round. Otherwise the rucio.cfg's own
authentication is used, and the storage still gets the probe's token.
"""

import functools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from lakeprobe import deadline
from lakeprobe.classify import classify
from lakeprobe.deadline import call_with_deadline
from lakeprobe.errors import ErrorClass as E
from lakeprobe.errors import ProbeError, ProbeFailure, scrub
from lakeprobe.inventory import Rucio
from lakeprobe.protocols import registry
from lakeprobe.protocols.root import Root
from lakeprobe.tokens import TokenProvider

BLAME = "rucio"
INTRODUCTIONS = 3  # what the catalogue's own failures are blamed on (the status page's Rucio row)
_configuring = threading.Lock()
_config: str | None = None  # the rucio.cfg this process's clients read (the Rucio client keeps the first)


class Catalogue:
    def __init__(self, settings: Rucio, tokens: TokenProvider, timeout_s: float, ca_file: str | None):
        self.settings, self.tokens, self.timeout_s, self.ca_file = settings, tokens, timeout_s, ca_file
        self.account = settings.account or ""
        self.scope = settings.scope or settings.account or ""
        self._local = threading.local()
        self._rses: dict[str, dict] = {}
        self._lock, self._held, self._token_file = threading.Lock(), "", ""

    # -- the client ----------------------------------------------------------------------------------
    def client(self):
        """This thread's client, holding the current token."""
        client = getattr(self._local, "client", None)
        if client is None:
            self._configure()
            from rucio.client import Client

            kwargs: dict[str, Any] = {"timeout": self.timeout_s, "logger": _quiet()}
            if self.settings.url:
                kwargs.update(rucio_host=self.settings.url, auth_host=self.settings.url)
            if self.settings.account:
                kwargs["account"] = self.settings.account
            if self.settings.auth == "token":
                kwargs["auth_type"] = "oidc"
            client = self._local.client = self.call("connecting to Rucio", lambda: Client(**kwargs))
        if self.settings.auth == "token":
            token = self.tokens.token(self.settings.token_client)
            client.auth_token = token  # read by every request (X-Rucio-Auth-Token) and by the transfer clients
            client.headers["X-Rucio-Auth-Token"] = token
            if token != self._held:
                self._hold(token)
                self._introduce(client)
                self._held = token
        return client

    def _introduce(self, client):
        """A new token's first use, alone: Rucio (41) stores each token it validates, and of several
        requests that bring a new token at once, the ones that lose the race to store it get 401."""
        for attempt in range(INTRODUCTIONS):
            try:
                return self.call("present the token", client.whoami)
            except ProbeError as e:
                if "CannotAuthenticate" not in str(e) or attempt == INTRODUCTIONS - 1:
                    raise
            time.sleep(0.2)

    def _hold(self, token: str):
        """Rucio's transfer clients make clients of their own (an RSEClient to read the RSE), which find their
        token the WLCG way: in the process's token file, else in the configured one. Both hold the current."""
        with self._lock:
            if "root" in registry.schemes():
                cast(Root, registry.get("root")).hold(token)
            if self._token_file:
                partial = f"{self._token_file}.{threading.get_ident()}"
                with open(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w") as f:
                    f.write(token)
                os.replace(partial, self._token_file)

    def storage_token(self) -> str | None:
        """The token the storage gets from Rucio's transfer clients: the probe's, whatever Rucio's auth is."""
        return self.tokens.token(self.settings.token_client) if self.tokens.has_issuer else None

    def _configure(self):
        """Once per process, before the Rucio client reads its configuration (it keeps the first it reads)."""
        global _config
        with _configuring:
            if _config is None:
                _config = self._token_config() if self.settings.auth == "token" else (self.settings.config or "")
            if _config:
                os.environ["RUCIO_CONFIG"] = _config

    def _token_config(self) -> str:
        """A private rucio.cfg for token identity, and the token file it names, kept at the current token."""
        directory = tempfile.mkdtemp(prefix="lakeprobe-rucio-")  # mode 700
        token_file = self._token_file = os.path.join(directory, "auth_token")
        self._hold(self.tokens.token(self.settings.token_client))
        deadline.at_exit(functools.partial(shutil.rmtree, directory, True))
        path = os.path.join(directory, "rucio.cfg")
        lines = [
            "[client]",
            f"rucio_host = {self.settings.url}",
            f"auth_host = {self.settings.url}",
            "auth_type = oidc",
            f"account = {self.account}",
            f"auth_token_file_path = {token_file}",
            "request_retries = 0",
            *([f"ca_cert = {self.ca_file}"] if self.ca_file else []),
        ]
        with open(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600), "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    # -- calls ---------------------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        """A call to the catalogue: its failure is Rucio's (an error blamed on it)."""
        try:
            return call_with_deadline(fn, self.timeout_s, what)
        except ProbeFailure as e:  # the deadline
            raise ProbeError(e.error_class, f"Rucio: {e}", BLAME) from None
        except ProbeError:
            raise
        except Exception as e:  # the client raises many kinds: what they say decides the class
            raise ProbeError(_catalogue_class(e), f"Rucio, {what}: {_text(e)}", BLAME) from None

    def rse(self, name: str) -> dict:
        """The RSE as Rucio has it (cached per process): deterministic or not, and its protocols."""
        if name not in self._rses:
            client = self.client()
            info = self.call(f"get RSE {name}", lambda: client.get_rse(name))
            self._rses[name] = info
        return self._rses[name]

    def protocol(self, rse: str, scheme: str) -> dict | None:
        return next((p for p in self.rse(rse).get("protocols", []) if p["scheme"] == scheme), None)

    def transfer(self, what: str, run: Callable[[Any, logging.Logger], Any], rse: str) -> Any:
        """An upload or download through Rucio's client: a failure of the storage is the RSE's."""
        client, log = self.client(), _CapturingLogger()
        try:
            return call_with_deadline(lambda: run(client, log), self.timeout_s, what)
        except ProbeFailure:  # the deadline
            raise
        except Exception as e:
            said = log.failure() or _text(e)
            if self._about_the_server(said):
                raise ProbeError(_catalogue_class(said), f"Rucio, {what}: {said}", BLAME) from None
            error_class = classify(said)
            if error_class == E.UNKNOWN:
                error_class = E.PROTOCOL_ERROR
            raise ProbeFailure(error_class, f"{what} on {rse}: {said}") from None

    def _about_the_server(self, said: str) -> bool:
        host = (self.settings.url or "").split("://")[-1].rstrip("/")
        return bool(host) and host in said or "CannotAuthenticate" in said


class _CapturingLogger(logging.Logger):
    """A log of one transfer, not shared: what the storage said when the client gave up."""

    def __init__(self):
        super().__init__("lakeprobe.catalogue.transfer", logging.DEBUG)
        self.lines: list[str] = []

    def handle(self, record: logging.LogRecord):
        self.lines.append(record.getMessage())

    def failure(self) -> str:
        """The storage's own words: the lines after an attempt failed, in the order they came."""
        telling = [
            line
            for line in self.lines
            if any(w in line for w in ("Details:", "ERROR", "rror", "failed", "denied", "[3", "HTTP"))
        ]
        return scrub(" | ".join(" ".join(line.split()) for line in dict.fromkeys(telling[-3:])))[:600]


def _quiet() -> logging.Logger:
    logger = logging.getLogger("lakeprobe.catalogue")
    logger.setLevel(logging.CRITICAL)
    return logger


def _catalogue_class(error: Exception | str) -> E:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    if "CannotAuthenticate" in text or "401" in text:
        return E.AUTH_DENIED
    found = classify(text)
    return found if found != E.UNKNOWN else E.PROTOCOL_ERROR


def _text(error: Exception) -> str:
    return scrub(f"{type(error).__name__}: {' '.join(str(error).split())}")[:600]
