"""Bearer tokens for the probes: from an OAuth2 issuer (client_credentials) or found the WLCG Bearer Token
Discovery way. One token per (client, audience) is cached and renewed in the background before it expires,
so no check waits for the issuer; pytest-xdist workers are handed the controller's tokens (plugins/tokens.py).
"""

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from lakeprobe.errors import ProbeError
from lakeprobe.jwts import claims as jwt_claims

# Tokens the authorization checks present, and must see refused: one for another audience than the lake's.
WRONG_AUDIENCE = "https://wrong-audience.lakeprobe.invalid"
# A second audience that is nobody's: a token for several audiences, none of them the storage's, is refused.
OTHER_WRONG_AUDIENCE = "https://other-audience.lakeprobe.invalid"


def several(*audiences: str) -> str:
    """The audience of a token for several audiences at once, as `token()` takes it."""
    return " ".join(audiences)


RENEW_BEFORE_S = 60  # renew when a token has less than this left (or a quarter of its life, if shorter)
ISSUER_TIMEOUT_S = 10


@dataclass
class Token:
    value: str
    expires: float
    lifetime: float

    def __repr__(self):  # a token must never end up in a log or a report, not even through repr()
        return f"Token(expires={self.expires:.0f})"

    def fresh(self, now: float) -> bool:
        return self.expires - now > min(RENEW_BEFORE_S, self.lifetime / 4)


def discover_token() -> str | None:
    """WLCG Bearer Token Discovery: BEARER_TOKEN, then BEARER_TOKEN_FILE, then $XDG_RUNTIME_DIR/bt_u$UID."""
    if os.environ.get("BEARER_TOKEN", "").strip():
        return os.environ["BEARER_TOKEN"].strip()
    candidates = [os.environ.get("BEARER_TOKEN_FILE")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        candidates.append(f"{os.environ['XDG_RUNTIME_DIR']}/bt_u{os.getuid()}")
    candidates.append(f"/tmp/bt_u{os.getuid()}")
    for path in filter(None, candidates):
        if Path(path).is_file():
            return Path(path).read_text().strip()  # strip: a stray newline breaks every header it goes in
    return None


class IssuerConfigError(ProbeError):
    """The issuer answers, and refuses what the inventory asks (a wrong URL, client secret or scope): the
    user's to fix. A run that meets it before it starts does not start."""

    def __init__(self, message: str):
        super().__init__("auth_denied", message, blame="issuer")


class TokenProvider:
    def __init__(
        self,
        issuer_url: str | None = None,
        client_secrets: dict | None = None,
        audience: str = "",
        ca_bundle: str | bool = True,
        client_scopes: dict | None = None,
        rse_audiences: list[str] | None = None,
    ):
        self.issuer_url, self.client_secrets = issuer_url, client_secrets or {}
        self.client_scopes = client_scopes or {}
        self.audience, self.ca_bundle = audience, ca_bundle
        self.rse_audiences = rse_audiences or []  # the RSEs' own audiences, besides the lake's
        # Read once, now: the root:// module takes the environment's token variables for its own use.
        self._discovered = None if issuer_url else discover_token()
        self._cache: dict[tuple[str, str], Token] = {}
        self._renewing: set[tuple[str, str]] = set()
        self._token_endpoint = ""
        self._lock = threading.Lock()
        self.requests = 0  # issuer requests made by this process

    @classmethod
    def for_lake(cls, inventory) -> "TokenProvider":
        """The inventory's issuer, or WLCG Bearer Token Discovery when it names none."""
        issuer = inventory.issuer
        if issuer is None:
            return cls()
        secrets = json.loads(Path(issuer.clients_file).read_text()) if issuer.clients_file else {}
        own = sorted({rse.audience for rse in inventory.rses.values() if rse.audience} - {issuer.audience})
        return cls(issuer.url, secrets, issuer.audience, _ca_bundle(inventory.ca_dir), issuer.scopes, own)

    def token(self, client: str = "probe", audience: str | None = None) -> str:
        """A token of `client` for `audience` (an RSE's own, or `several()`), or for the lake's when empty."""
        key = (client, audience or self.audience)
        now = time.time()
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached.fresh(now):
            return cached.value
        if cached and cached.expires - now > 5:
            self._renew_in_background(key)
            return cached.value
        return self._fetch(key).value

    @property
    def has_issuer(self) -> bool:
        """Whether tokens come from an issuer (any client, any audience) rather than found by discovery."""
        return bool(self.issuer_url)

    def token_kinds(self) -> list[tuple[str, str]]:
        """Every (client, audience) a round asks for: the issuer is asked once per kind and round."""
        if not self.has_issuer:
            return [("probe", self.audience)]
        audiences = [self.audience, *self.rse_audiences]
        wrong = [WRONG_AUDIENCE, several(WRONG_AUDIENCE, OTHER_WRONG_AUDIENCE)]
        listing_each = [several(WRONG_AUDIENCE, a) for a in audiences]
        return [(c, a) for a in audiences for c in self.client_scopes or ["probe"]] + [
            ("probe", a) for a in wrong + listing_each
        ]

    def prefetch(self):
        """One token of every kind a round uses, fetched before it starts (by the process that starts the
        run, which hands them to the others). An issuer that refuses what the inventory asks raises
        IssuerConfigError; one that cannot be reached is an outage, which the checks that need a token
        record, blamed on the issuer."""
        for client, audience in self.token_kinds():
            try:
                self.token(client, audience)
            except IssuerConfigError:
                raise
            except ProbeError:
                return

    def token_endpoint(self) -> str:
        """From the issuer's OpenID discovery document (once per process)."""
        if not self._token_endpoint:
            url = f"{self.issuer_url}/.well-known/openid-configuration"
            try:
                reply = requests.get(url, verify=self.ca_bundle, timeout=ISSUER_TIMEOUT_S)
            except requests.RequestException as e:
                raise ProbeError(
                    "unreachable", f"token issuer {self.issuer_url} unreachable: {type(e).__name__}", blame="issuer"
                ) from None
            if reply.status_code in (400, 401, 403, 404, 405):
                raise IssuerConfigError(
                    f"issuer.url {self.issuer_url}: no OpenID discovery document there "
                    f"(HTTP {reply.status_code} for /.well-known/openid-configuration)"
                )
            try:
                self._token_endpoint = reply.json()["token_endpoint"]
            except (ValueError, KeyError, TypeError):
                raise ProbeError(
                    "protocol_error",
                    f"token issuer {self.issuer_url}: its discovery document names no token_endpoint",
                    blame="issuer",
                ) from None
        return self._token_endpoint

    def expired_token(self, client: str = "probe-short", audience: str | None = None) -> str:
        """A token of a short-lived client that has expired without ever being presented: fetched at the
        start of the round (by the xdist controller) and waited out here, once per process at most."""
        key = (client, audience or self.audience)
        with self._lock:
            token = self._cache.get(key)
        token = token or self._fetch(key)
        wait = jwt_claims(token.value).get("exp", token.expires) + 1 - time.time()
        if wait > 0:
            time.sleep(wait)
        return token.value

    def seed(self, tokens: dict):
        """Take tokens fetched elsewhere (by the xdist controller): {"client|audience": [value, expires]}."""
        for key, (value, expires) in tokens.items():
            client, audience = key.split("|", 1)
            try:
                lifetime = expires - jwt_claims(value).get("iat", time.time())
            except ValueError:
                lifetime = 3600
            self._cache[(client, audience)] = Token(value, expires, lifetime)

    def export(self) -> dict:
        return {f"{c}|{a}": [t.value, t.expires] for (c, a), t in self._cache.items()}

    def _renew_in_background(self, key):
        with self._lock:
            if key in self._renewing:
                return
            self._renewing.add(key)

        def renew():
            try:
                self._fetch(key)
            except ProbeError:
                pass  # the current token still works; the next call retries
            finally:
                with self._lock:
                    self._renewing.discard(key)

        threading.Thread(target=renew, daemon=True).start()

    def _fetch(self, key) -> Token:
        client, audience = key
        if not self.issuer_url:
            found = self._discovered
            if not found:
                raise ProbeError(
                    "auth_denied",
                    "no token: configure an issuer in the inventory or set BEARER_TOKEN(_FILE)",
                    blame="lakeprobe",
                )
            try:
                expires = float(jwt_claims(found).get("exp", time.time() + 3600))
            except ValueError:  # an opaque token: its lifetime is the issuer's secret
                expires = time.time() + 3600
            token = Token(found, expires, 3600)
        else:
            token = self.issue(client, audience)
        with self._lock:
            self._cache[key] = token
        return token

    def issue(self, client: str, audience: str = "") -> Token:
        """A new token from the issuer, whatever the cache holds (the issuer checks measure this request)."""
        if client not in self.client_secrets:
            raise ProbeError("auth_denied", f"no credentials for token client {client!r}", blame="lakeprobe")
        form = {"grant_type": "client_credentials"}
        if " " in audience:  # several audiences: INDIGO IAM's parameter for them
            form["audience"] = audience
        elif audience:
            form["resource"] = audience
        if self.client_scopes.get(client):
            form["scope"] = self.client_scopes[client]
        endpoint = self.token_endpoint()
        self.requests += 1
        try:
            reply = requests.post(
                endpoint,
                data=form,
                auth=(client, self.client_secrets[client]),
                verify=self.ca_bundle,
                timeout=ISSUER_TIMEOUT_S,
            )
        except requests.RequestException as e:
            raise ProbeError(
                "unreachable", f"token issuer {self.issuer_url} unreachable: {type(e).__name__}", blame="issuer"
            ) from None
        if reply.status_code in (400, 401, 403):
            raise IssuerConfigError(
                f"the token issuer refuses client {client!r} (HTTP {reply.status_code} "
                f"{_oauth_error(reply)}): check its secret in issuer.clients_file and its "
                "scopes in issuer.scopes"
            )
        if reply.status_code != 200:
            raise ProbeError(
                "unreachable",
                f"token issuer {self.issuer_url} answered HTTP {reply.status_code} for client {client!r}",
                blame="issuer",
            )
        body = reply.json()
        lifetime = float(body.get("expires_in", 600))
        return Token(body["access_token"], time.time() + lifetime, lifetime)


def _oauth_error(reply) -> str:
    try:
        return str(reply.json().get("error", "")) or reply.reason
    except ValueError:
        return reply.reason


def _ca_bundle(ca_dir: str | None) -> str | bool:
    if not ca_dir:
        return True
    pems = sorted(Path(ca_dir).glob("*.pem"))
    return str(pems[0]) if pems else True
