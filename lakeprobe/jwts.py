"""The little of JWT the checks need: read claims, verify an RS256 signature against a JWKS, and make a
token that no issuer of the lake signed (for the unknown-issuer check)."""

import base64
import functools
import json
import time
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

UNKNOWN_ISSUER = "https://unknown-issuer.lakeprobe.invalid"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


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


def signed_by(token: str, jwks: dict) -> bool:
    """Whether an RS256 token's signature verifies with the JWKS key its header names."""
    kid = header(token).get("kid")
    signing_input, _, signature = token.rpartition(".")
    for key in jwks.get("keys", []):
        if key.get("kty") != "RSA" or (kid and key.get("kid") != kid):
            continue
        public = rsa.RSAPublicNumbers(
            int.from_bytes(_b64decode(key["e"]), "big"), int.from_bytes(_b64decode(key["n"]), "big")
        ).public_key()
        try:
            public.verify(_b64decode(signature), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
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
    head = {"alg": "RS256", "typ": "JWT", "kid": "lakeprobe-unknown"}
    signing_input = f"{_b64encode(json.dumps(head).encode())}.{_b64encode(json.dumps(body).encode())}"
    signature = _throwaway_key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64encode(signature)}"
