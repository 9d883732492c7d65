"""A small OpenID Connect provider for the tests: discovery, authorize, token, JWKS, userinfo.

    with OidcProvider(users={"olga": {"name": "Olga", "groups": ["hr-staff"]}}) as provider:
        provider.sign_in_as = "olga"      # who "types their password" at the next /authorize
        ...                               # provider.issuer, provider.client_id / client_secret

Authorization code flow with client_secret_post or _basic; ID tokens signed RS256 with a key
made at start (joserfc). It checks what a real provider checks for this flow (client, redirect
URI, code used once) and nothing else: it is a test double, not a server to deploy.
"""

import secrets
import threading
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from tests.servers import free_port


class OidcProvider:
    def __init__(self, users: dict[str, dict]):
        self.users = users
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id, self.client_secret = "flowdesk", secrets.token_urlsafe(16)
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.codes: dict[str, dict] = {}
        self.sign_in_as: str | None = None
        self.app = self._build()

    def _build(self) -> Flask:
        app = Flask("oidc_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}/token",
                jwks_uri=f"{self.issuer}/jwks",
                userinfo_endpoint=f"{self.issuer}/userinfo",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                token_endpoint_auth_methods_supported=["client_secret_post", "client_secret_basic"],
            )  # fmt: skip

        @app.get("/jwks")
        def jwks():
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize():
            args = request.args
            if args.get("client_id") != self.client_id or args.get("response_type") != "code":
                return "bad client or response type", 400
            if self.sign_in_as not in self.users:
                return "nobody signs in here", 401
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"user": self.sign_in_as, "nonce": args.get("nonce"),
                                "redirect_uri": args["redirect_uri"]}  # fmt: skip
            query = urlencode({"code": code, "state": args.get("state", "")})
            return redirect(f"{args['redirect_uri']}?{query}")

        @app.post("/token")
        def token():
            form = request.form
            client = request.authorization
            client_id = client.username if client else form.get("client_id")
            client_secret = client.password if client else form.get("client_secret")
            if (client_id, client_secret) != (self.client_id, self.client_secret):
                return jsonify(error="invalid_client"), 401
            grant = self.codes.pop(form.get("code", ""), None)  # a code works once
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return jsonify(error="invalid_grant"), 400
            now = int(time.time())
            claims = {"iss": self.issuer, "sub": grant["user"], "aud": self.client_id,
                      "iat": now, "exp": now + 300, "nonce": grant["nonce"],
                      "preferred_username": grant["user"], **self.users[grant["user"]]}  # fmt: skip
            id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
            access = secrets.token_urlsafe(16)
            self.codes[f"access:{access}"] = {"user": grant["user"]}
            return jsonify(access_token=access, token_type="Bearer", expires_in=300,
                           id_token=id_token)  # fmt: skip

        @app.get("/userinfo")
        def userinfo():
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
            grant = self.codes.get(f"access:{bearer}")
            if grant is None:
                return jsonify(error="invalid_token"), 401
            user = grant["user"]
            return jsonify(sub=user, preferred_username=user, **self.users[user])

        return app

    def __enter__(self) -> "OidcProvider":
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
