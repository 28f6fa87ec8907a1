"""The token issuer: discovery, JWKS and token endpoint answer, and issued tokens carry the WLCG JWT profile
claims; every client's tokens verify with the published keys, whatever their algorithm. The token request's
latency is the check's duration."""

import time

from lakeprobe import jwts
from lakeprobe.errors import ProbeFailure

# WLCG Common JWT Profiles 1.0: the claims an access token must carry.
WLCG_ACCESS_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "wlcg.ver", "scope")


def test_issuer_discovery(issuer, get_json):
    found = get_json(f"{issuer}/.well-known/openid-configuration")
    missing = [k for k in ("issuer", "jwks_uri", "token_endpoint") if not found.get(k)]
    if missing:
        raise ProbeFailure("protocol_error", f"discovery document lacks {', '.join(missing)}")
    if found["issuer"].rstrip("/") != issuer:
        raise ProbeFailure("protocol_error", f"discovery names issuer {found['issuer']}, not {issuer}")


def test_issuer_jwks(issuer, get_json):
    jwks = get_json(get_json(f"{issuer}/.well-known/openid-configuration")["jwks_uri"])
    if not [k for k in jwks.get("keys", []) if k.get("kty") and k.get("kid")]:
        raise ProbeFailure("protocol_error", "the JWKS holds no usable key")


def test_issuer_token(issuer, tokens, record):
    started = time.monotonic()
    tokens.issue("probe", tokens.audience)
    record.duration_s = round(time.monotonic() - started, 4)  # the token request's latency, issuer side included


def test_issuer_token_claims(issuer, tokens, get_json):
    token = tokens.token("probe")
    claims = jwts.claims(token)
    missing = [c for c in WLCG_ACCESS_CLAIMS if c not in claims]
    if missing:
        raise ProbeFailure("protocol_error", f"the token lacks WLCG profile claims {', '.join(missing)}")
    if claims["wlcg.ver"] != "1.0" or claims["iss"].rstrip("/") != issuer:
        raise ProbeFailure("protocol_error", f"wlcg.ver {claims['wlcg.ver']!r}, iss {claims['iss']!r}")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if tokens.audience and tokens.audience not in audiences:
        raise ProbeFailure("protocol_error", f"the token's audience is {claims['aud']!r}, not {tokens.audience!r}")
    if not claims["exp"] > time.time() >= claims["iat"] - 60:
        raise ProbeFailure("protocol_error", "the token's iat/exp do not bracket the present")
    jwks = get_json(get_json(f"{issuer}/.well-known/openid-configuration")["jwks_uri"])
    # Every client's token: an issuer may sign clients with different keys and algorithms (RS256, ES256).
    unverified = [c for c in tokens.client_scopes or ["probe"] if not jwts.signed_by(tokens.token(c), jwks)]
    if unverified:
        raise ProbeFailure(
            "security", f"tokens of {', '.join(unverified)} do not verify with the issuer's published keys"
        )
