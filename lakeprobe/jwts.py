"""The little of JWT the checks need: read claims, verify a signature against a JWKS (PyJWT), and make a
token that no issuer of the lake signed (for the unknown-issuer check)."""

import base64
import functools
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

UNKNOWN_ISSUER = "https://unknown-issuer.lakeprobe.invalid"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def claims(token: str) -> dict:
    """The claims of a JWT; ValueError for a token that is not one (an opaque token)."""
    try:
        found = json.loads(_b64decode(token.split(".")[1]))
    except (IndexError, ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"not a JWT ({type(e).__name__})") from None
    if not isinstance(found, dict):
        raise ValueError("not a JWT (claims are not an object)")
    return found


def header(token: str) -> dict:
    return json.loads(_b64decode(token.split(".")[0]))


# The asymmetric algorithms: a public JWKS cannot carry an HMAC secret, and `none` signs nothing.
ALGORITHMS = sorted(jwt.algorithms.requires_cryptography)


def signed_by(token: str, jwks: dict) -> bool:
    """Whether the token's signature verifies with the JWKS key its header names, for any algorithm of the
    profile (RSA, RSA-PSS, EC, EdDSA); the key must be one for the header's algorithm."""
    try:
        head = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False
    kid, alg = head.get("kid"), head.get("alg")
    if alg not in ALGORITHMS:
        return False
    for jwk in jwks.get("keys", []):
        if not isinstance(jwk, dict) or (kid and jwk.get("kid") != kid) or jwk.get("alg", alg) != alg:
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            jwt.decode(
                token,
                key,
                algorithms=[alg],
                options={
                    "verify_signature": True,  # the signature only: claims are the checks' own business
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
            return True
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            pass
    return False


@functools.cache
def _throwaway_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def unknown_issuer_token(audience: str, scope: str, lifetime_s: int = 600) -> str:
    """A well-formed WLCG token with the lake's audience and the scope given, from an issuer nobody trusts."""
    now = int(time.time())
    body = {
        "iss": UNKNOWN_ISSUER,
        "sub": "lakeprobe-unknown-issuer",
        "aud": audience,
        "scope": scope,
        "wlcg.ver": "1.0",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_s,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(body, _throwaway_key(), algorithm="RS256", headers={"kid": "lakeprobe-unknown"})
