"""Issuer signatures verify for every asymmetric algorithm a JWKS may publish, and for nothing else: a token
signed by another key, with `none`, with an HMAC secret or with a key of another type does not verify."""

import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from lakeprobe import jwts

CLAIMS = {"iss": "https://issuer.example", "sub": "probe", "scope": "storage.read:/"}


def _jwks(key, kid: str) -> dict:
    return {"keys": [{**_public_jwk(key), "kid": kid}]}


def _public_jwk(key) -> dict:
    if isinstance(key, rsa.RSAPrivateKey):
        return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))


KEYS = {
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "PS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_a_token_verifies_with_its_issuers_key_and_not_with_another(alg):
    key, other = KEYS[alg](), KEYS[alg]()
    token = jwt.encode(CLAIMS, key, algorithm=alg, headers={"kid": "k1"})
    assert jwts.signed_by(token, _jwks(key, "k1"))
    assert not jwts.signed_by(token, _jwks(other, "k1"))
    assert not jwts.signed_by(token, _jwks(key, "another-kid"))


def test_none_hmac_and_a_key_of_another_type_do_not_verify():
    rsa_key, ec_key = KEYS["RS256"](), KEYS["ES256"]()
    unsigned = jwt.encode(CLAIMS, None, algorithm="none")
    hmac = jwt.encode(CLAIMS, "a-secret-of-32-bytes-at-least-0123", algorithm="HS256", headers={"kid": "k1"})
    secret_jwk = {"keys": [{"kty": "oct", "k": "YS1zZWNyZXQtb2YtMzItYnl0ZXMtYXQtbGVhc3QtMDEyMw", "kid": "k1"}]}
    assert not jwts.signed_by(unsigned, _jwks(rsa_key, "k1"))
    assert not jwts.signed_by(hmac, secret_jwk)
    es_token = jwt.encode(CLAIMS, ec_key, algorithm="ES256", headers={"kid": "k1"})
    assert not jwts.signed_by(es_token, _jwks(rsa_key, "k1"))
    assert not jwts.signed_by("not-a-token", _jwks(rsa_key, "k1"))
