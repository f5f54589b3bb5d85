#!/usr/bin/env bash
# Regenerates the JWT test material used by tests/unit/tst_jwtverifier.cpp. These are TEST-ONLY
# keys: they are public in the repository and must never protect anything real.
#
# Needs the openssl CLI, and PyJWT + cryptography for interop.json (Debian: python3-jwt,
# python3-cryptography). interop.json holds tokens minted by PyJWT, an implementation independent
# of cpp-jwt, so the test proves we accept what other issuers produce; the test itself never runs
# python. Regenerating the keys invalidates the committed tokens, so this script remakes both.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-/usr/bin/python3}

rsa_pair() {
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1_private.pem" 2>/dev/null
    openssl pkey -in "$1_private.pem" -pubout -out "$1_public.pem"
}

ec_pair() {
    openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -out "$1_private.pem"
    openssl pkey -in "$1_private.pem" -pubout -out "$1_public.pem"
}

rsa_pair rsa
rsa_pair rsa_wrong
ec_pair ec P-256
ec_pair ec_wrong P-256
# ES256 needs P-256: a P-384 key must be refused by JwtVerifier::create().
ec_pair ec_p384 P-384
rm -f ec_p384_private.pem

"$PYTHON" - <<'PY'
import json
import jwt

secret = "interop-shared-secret-0123456789abcdef"
# exp 4102444800 = 2100-01-01T00:00:00Z
claims = {"sub": "interop", "name": "Interop User", "channels": ["room:*", "lobby"],
          "iat": 1700000000, "exp": 4102444800}
with open("rsa_private.pem", "rb") as f:
    rsa_key = f.read()
with open("ec_private.pem", "rb") as f:
    ec_key = f.read()
out = {
    "generator": "PyJWT " + jwt.__version__,
    "secret": secret,
    "claims": claims,
    "HS256": jwt.encode(claims, secret, algorithm="HS256"),
    "RS256": jwt.encode(claims, rsa_key, algorithm="RS256"),
    "ES256": jwt.encode(claims, ec_key, algorithm="ES256"),
}
with open("interop.json", "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
PY
echo "wrote $(ls ./*.pem interop.json | tr '\n' ' ')"
