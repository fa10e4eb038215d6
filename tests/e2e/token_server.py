#!/usr/bin/env python3
"""A registry token server (distribution's token auth spec) for the `verify` e2e tests.

    token_server.py DIR PORT

Writes DIR/token.crt (for the registry's `rootcertbundle`), then serves GET /token on
127.0.0.1:PORT. It knows these users, by Basic auth:
  pusher:push-pw  pull and push on every repository (to seed images)
  puller:pull-pw  pull on team/app only
  other:other-pw  nothing: it gets a token with an empty scope, as the spec says a server
                  must answer a user who holds only part of (or none of) a scope
  robot:<JWT>     a short-lived token as password (like ACR's): refused once its `exp`
                  has passed, with a message saying it expired
Anything else is 401. Tokens are RS256 JWTs whose x5c header carries token.crt.
"""

import base64
import datetime
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "e2e-token-issuer"
PASSWORDS = {"pusher": "push-pw", "puller": "pull-pw", "other": "other-pw"}
RIGHTS = {"pusher": {"*": ["pull", "push"]}, "puller": {"team/app": ["pull"]}, "other": {}}


def make_key(directory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with open(f"{directory}/token.crt", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def jwt_expired(password):
    """Whether a JWT password's exp has passed (signature not checked: the test issues it)."""
    try:
        claims = jwt.decode(password, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return None
    return claims.get("exp", 0) <= time.time()


class Handler(BaseHTTPRequestHandler):
    key = None
    x5c = None

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/token":
            return self.reply(404, {"error": "not found"})
        query = parse_qs(url.query)
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return self.reply(401, {"details": "authentication required"})
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        if user == "robot":
            expired = jwt_expired(password)
            if expired is None:
                return self.reply(401, {"details": "invalid credentials"})
            if expired:
                return self.reply(401, {"details": "the token has expired"})
            rights = {"team/app": ["pull"]}
        elif PASSWORDS.get(user) == password:
            rights = RIGHTS[user]
        else:
            return self.reply(401, {"details": "invalid credentials"})
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            held = rights.get(name, rights.get("*", []))
            granted = [a for a in actions.split(",") if a in held]
            if kind == "repository" and granted:
                access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user,
            "aud": query.get("service", [""])[0],
            "iat": now,
            "nbf": now - 10,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            "access": access,
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": [self.x5c]})
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300})


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    Handler.key, Handler.x5c = make_key(directory)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
