"""Verifies an idbridge session token with PyJWT, independently of idbridge's code.

Usage: jwt_check.py <jwks url> <token> <issuer> <audience>; prints the claims, exits 1 if invalid.
"""
import json
import sys
import urllib.request

import jwt

jwks_url, token, issuer, audience = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
keys = jwt.PyJWKSet.from_dict(json.load(urllib.request.urlopen(jwks_url)))
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in keys.keys if k.key_id == kid)
claims = jwt.decode(token, key=key, algorithms=["EdDSA"], issuer=issuer, audience=audience, options={"require": ["exp", "iat", "sub", "iss", "aud"]})
print(json.dumps(claims))
