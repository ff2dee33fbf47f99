"""SMART App Launch sandbox: an authorization server for test apps, over the generated practice.

`/fhir/.well-known/smart-configuration` (and at the server's root) says where everything is.
`/auth/authorize` takes a registered app's OAuth2 authorization-code request with PKCE (S256 only),
resolves the patient (an EHR launch's `launch` id, or the patient picker of a standalone launch)
and redirects back with a single-use code; `/auth/token` exchanges it, checking the code verifier,
for a bearer token (a JWT signed RS256, public key at `/auth/jwks.json`) carrying the patient and
the granted scopes, and an OpenID Connect id_token when `openid fhirUser` are granted.
`/auth/launch` is the EHR launch: the viewer's patient page links to it, and it opens the app's
launch URL with `iss` and `launch`. The `Bearer` middleware turns a token into the API's `Access`;
no token reads openly unless the server requires one. The signing key, codes and launches live in
this process: a restart ends every session. A sandbox for testing apps on synthetic data, not a
production identity provider: there is no sign-in and no consent screen. This module holds the state and
the middleware; the endpoints are in serve/smart_routes.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import HTTPException, Request

from synthgp.serve.fhir_access import Access
from synthgp.serve.fhir_params import outcome
from synthgp.serve.smart_apps import RESOURCE_SCOPE_RE, App, valid_scope

TOKEN_SECONDS = 3600
CODE_SECONDS = 300  # an authorization code's life; it is used once
PENDING_SECONDS = 1800  # an authorize request waiting at the picker, or an EHR launch waiting for its app
MAX_PENDING = 10_000  # codes, launches and waiting requests held at once; the oldest go first
VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 section 4.1
SCOPES = ("launch", "launch/patient", "openid", "fhirUser", "patient/*.read", "patient/*.rs", "user/*.read", "user/*.rs",
          "patient/*.write", "patient/*.cruds")
CAPABILITIES = ["launch-ehr", "launch-standalone", "client-public", "context-ehr-patient", "context-standalone-patient",
                "context-banner", "permission-patient", "permission-user", "permission-v1", "permission-v2",
                "sso-openid-connect"]


def _read(perm: str) -> bool:
    return perm in ("read", "*") or bool({"r", "s"} & set(perm))


def access_of(scope: str, patient: int | None) -> Access:
    """The API access that granted `scope` (space-separated) gives, with `patient` in context."""
    pt, ut, wt = set(), set(), set()
    for s in scope.split():
        m = RESOURCE_SCOPE_RE.match(s)
        if m and _read(m[3]):
            (pt if m[1] == "patient" else ut).add(m[2])
        if m and (m[3] in ("write", "*") or "c" in m[3]):  # SMART v1 .write/.*, v2 .c (create)
            wt.add(m[2])
    return Access(patient, frozenset(pt), frozenset(ut), frozenset(wt))


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


@dataclass
class _Held:
    """Short-lived state by random key (codes, launches, waiting requests), oldest dropped past MAX_PENDING."""
    seconds: int
    items: dict[str, tuple[float, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the endpoints run on a thread pool

    def put(self, value: Any) -> str:
        now, key = time.monotonic(), secrets.token_urlsafe(24)
        with self.lock:
            for k in [k for k, (t, _) in self.items.items() if t < now] + list(self.items)[:max(0, len(self.items) - MAX_PENDING)]:
                self.items.pop(k, None)
            self.items[key] = (now + self.seconds, value)
        return key

    def get(self, key: str, once: bool = False) -> Any:
        with self.lock:
            held = self.items.pop(key, None) if once else self.items.get(key)
        return held[1] if held and held[0] >= time.monotonic() else None


class Sandbox:
    """The authorization server's state: the registered apps, a signing key, codes and launches."""

    def __init__(self, apps: dict[str, App], require_auth: bool = False):
        self.apps, self.require_auth = apps, require_auth
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.codes, self.launches, self.waiting = _Held(CODE_SECONDS), _Held(PENDING_SECONDS), _Held(PENDING_SECONDS)

    # ------------------------------------------------------------------ tokens
    def sign(self, claims: dict) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str) -> dict:
        """The claims of a token this server issued; jwt.InvalidTokenError if not (or expired)."""
        claims = jwt.decode(token, self.key.public_key(), algorithms=["RS256"], options={"verify_aud": False,
                                                                                         "require": ["exp", "scope"]})
        if claims.get("token_use") != "access":
            raise jwt.InvalidTokenError("not an access token")
        return claims

    def jwks(self) -> dict:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    # ------------------------------------------------------------------ what the endpoints check
    def client(self, q: dict[str, str]) -> App:
        """The registered app and redirect URI of an authorize request; errors here are shown, never redirected."""
        if not self.apps:
            raise HTTPException(400, "No apps are registered with this sandbox: register one with `synthgp apps add` "
                                     "(docs/sandbox.md) and restart `synthgp serve`.")
        app = self.apps.get(q.get("client_id", ""))
        if app is None:
            raise HTTPException(400, f"Unknown client_id '{q.get('client_id', '')}'. Registered: {', '.join(self.apps)}.")
        if q.get("redirect_uri") not in app.redirect_uris:
            raise HTTPException(400, f"redirect_uri '{q.get('redirect_uri', '')}' is not registered for {app.client_id}; "
                                     f"registered: {', '.join(app.redirect_uris)}.")
        return app

    def granted(self, app: App, requested: str) -> str:
        """The scopes granted: those requested that are understood and that the app may have."""
        return " ".join(s for s in dict.fromkeys(requested.split()) if valid_scope(s) and app.allows(s))


def security(request: Request, sandbox: Sandbox) -> dict:
    """The CapabilityStatement's security section: SMART on FHIR, with the OAuth endpoints."""
    b = str(request.base_url).rstrip("/")
    how = ("A bearer token is required" if sandbox.require_auth else
           "No authentication needed (synthetic data, read-only, answered only on localhost or the host names the "
           "server was started with); SMART bearer tokens are honoured")
    return {"cors": True, "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                                   "code": "SMART-on-FHIR"}]}],
            "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", "extension": [
                {"url": "authorize", "valueUri": b + "/auth/authorize"}, {"url": "token", "valueUri": b + "/auth/token"}]}],
            "description": f"{how}: SMART App Launch sandbox, see /fhir/.well-known/smart-configuration"}


OPEN_PATHS = ("/fhir/metadata", "/fhir/.well-known/")


class Bearer:
    """ASGI middleware: a request to /fhir with `Authorization: Bearer <token>` reads with that token's
    access; a bad or expired token is a 401, and so is no token when the sandbox requires one."""

    def __init__(self, app, sandbox: Sandbox):
        self.app, self.sandbox = app, sandbox

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/fhir") or scope["path"].startswith(OPEN_PATHS) \
                or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        if not header:
            if self.sandbox.require_auth:
                await self._401(scope, receive, send, "this sandbox requires a bearer token: launch the app through "
                                                      "/auth/authorize (see /fhir/.well-known/smart-configuration)")
                return
            await self.app(scope, receive, send)
            return
        kind, _, token = header.partition(" ")
        try:
            if kind.lower() != "bearer" or not token:
                raise jwt.InvalidTokenError("the Authorization header is not 'Bearer <token>'")
            claims = self.sandbox.verify(token.strip())
        except jwt.InvalidTokenError as exc:
            await self._401(scope, receive, send, f"invalid access token: {exc}")
            return
        scope.setdefault("state", {})["access"] = access_of(claims["scope"], int(claims["patient"]) if "patient" in claims else None)
        await self.app(scope, receive, send)

    @staticmethod
    async def _401(scope, receive, send, message: str):
        resp = outcome(401, "login", message)
        resp.headers["WWW-Authenticate"] = 'Bearer realm="synthgp", error="invalid_token"'
        await resp(scope, receive, send)
