"""JSON Web Tokens made by the tests themselves, independently of the server's code: HS256
with Python's hmac/hashlib/base64, RS256 and ES256 with keys and signatures from the `openssl`
command line (ES256: its DER signature turned into JWS's R || S)."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time


def b64url(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")))


def signing_input(header, claims):
    h = header if isinstance(header, str) else b64url_json(header)
    c = claims if isinstance(claims, str) else b64url_json(claims)
    return h + "." + c


def hs256(claims, secret, header=None):
    head = signing_input(header or {"alg": "HS256", "typ": "JWT"}, claims)
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    mac = hmac.new(key, head.encode("ascii"), hashlib.sha256).digest()
    return head + "." + b64url(mac)


def claims_for(user, ttl=600, now=None, **extra):
    now = int(time.time()) if now is None else now
    c = {"sub": str(user), "iat": now, "exp": now + ttl}
    c.update(extra)
    return c


class KeyPair:
    """A private key made with `openssl genpkey` in `directory`, its public PEM, and signing."""

    def __init__(self, directory, kind):
        self.kind = kind  # "RS256" | "ES256"
        self.private = os.path.join(directory, "%s.key" % kind)
        self.public = os.path.join(directory, "%s.pub.pem" % kind)
        if kind == "RS256":
            gen = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        else:
            gen = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run(gen + ["-out", self.private], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", self.private, "-pubout", "-out", self.public], check=True,
                       capture_output=True)
        with open(self.public, "rb") as f:
            self.public_pem = f.read()

    def sign(self, claims, header=None):
        head = signing_input(header or {"alg": self.kind, "typ": "JWT"}, claims)
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.private], input=head.encode("ascii"),
                             check=True, capture_output=True).stdout
        if self.kind == "ES256":
            sig = der_to_raw(sig, 32)
        return head + "." + b64url(sig)


def der_to_raw(der, size):
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r || s, each `size` bytes."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        value = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += value.rjust(size, b"\x00")
        i += 2 + n
    return out


def bearer(token):
    return {"Authorization": "Bearer " + token}
