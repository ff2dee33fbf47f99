"""The SMART sandbox's endpoints: discovery (`.well-known/smart-configuration`, the JWKS), the EHR launch,
the authorization endpoint with its patient picker, and the token endpoint (serve/smart.py holds their state)."""

from __future__ import annotations

import re
import secrets
import time
import urllib.parse
from typing import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from synthgp.serve.smart import CAPABILITIES, SCOPES, TOKEN_SECONDS, VERIFIER_RE, Sandbox, s256
from synthgp.serve.smart_apps import RESOURCE_SCOPE_RE


def _redirect_error(q: dict[str, str], error: str, description: str) -> RedirectResponse:
    args = {"error": error, "error_description": description, **({"state": q["state"]} if "state" in q else {})}
    return RedirectResponse(_with(q["redirect_uri"], args), status_code=302)


def _with(url: str, args: dict[str, str]) -> str:
    return url + ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(args)


def _token_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=400,
                        headers={"Cache-Control": "no-store"})


def router(sandbox: Sandbox, picker: Callable[..., HTMLResponse], patient_exists: Callable[[int], dict | None]) -> APIRouter:
    """The sandbox's endpoints. `picker(request, waiting_key, q, page)` renders the patient picker;
    `patient_exists(patid)` gives the Patient resource or None."""
    r = APIRouter(tags=["SMART sandbox"])
    _discovery(r, sandbox)
    _authorization(r, sandbox, picker, patient_exists)
    _token(r, sandbox, patient_exists)
    return r


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _discovery(r: APIRouter, sandbox: Sandbox) -> None:
    """Where everything is (SMART configuration, at the root and at the FHIR base) and the signing key."""
    def configuration(request: Request):
        b = _base(request)
        return JSONResponse({
            "issuer": b + "/fhir", "jwks_uri": b + "/auth/jwks.json",
            "authorization_endpoint": b + "/auth/authorize", "token_endpoint": b + "/auth/token",
            "token_endpoint_auth_methods_supported": ["none"], "grant_types_supported": ["authorization_code"],
            "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES), "capabilities": CAPABILITIES})

    r.add_api_route("/.well-known/smart-configuration", configuration, methods=["GET"], summary="SMART configuration")
    r.add_api_route("/fhir/.well-known/smart-configuration", configuration, methods=["GET"],
                    summary="SMART configuration (at the FHIR base, where SMART clients look)")

    @r.get("/auth/jwks.json", summary="The public key that signs access and id tokens")
    def jwks():
        return JSONResponse(sandbox.jwks())


def _authorization(r: APIRouter, sandbox: Sandbox, picker: Callable[..., HTMLResponse],
                   patient_exists: Callable[[int], dict | None]) -> None:
    """The EHR launch, the authorization endpoint and the standalone launch's patient picker."""
    @r.get("/auth/launch", summary="EHR launch: open a registered app's launch URL for a patient")
    def launch(request: Request, client_id: str, patient: int):
        app = sandbox.apps.get(client_id)
        if app is None or not app.launch_url:
            raise HTTPException(400, f"No registered app '{client_id}' with a launch_url.")
        if patient_exists(patient) is None:
            raise HTTPException(404, f"No patient {patient}")
        key = sandbox.launches.put({"patient": patient, "client_id": client_id})
        return RedirectResponse(_with(app.launch_url, {"iss": _base(request) + "/fhir", "launch": key}), status_code=303)

    @r.get("/auth/authorize", summary="OAuth2 authorization endpoint (code flow with PKCE S256)")
    def authorize(request: Request):
        q = dict(request.query_params)
        app = sandbox.client(q)  # unknown client or redirect URI: an error page, not a redirect
        if q.get("response_type") != "code":
            return _redirect_error(q, "unsupported_response_type", "only response_type=code is supported")
        if q.get("code_challenge_method") != "S256" or not re.fullmatch(r"[A-Za-z0-9_-]{43}", q.get("code_challenge", "")):
            return _redirect_error(q, "invalid_request", "PKCE is required: code_challenge (base64url SHA-256 of the "
                                                         "code verifier) with code_challenge_method=S256")
        aud = urllib.parse.urlsplit(q.get("aud", ""))
        if aud.path.rstrip("/") != "/fhir" or aud.port != request.url.port:
            return _redirect_error(q, "invalid_request", f"aud must be this server's FHIR base URL, {_base(request)}/fhir")
        scope = sandbox.granted(app, q.get("scope", ""))
        if not any(RESOURCE_SCOPE_RE.match(s) for s in scope.split()):
            return _redirect_error(q, "invalid_scope", f"no resource scope granted from '{q.get('scope', '')}' "
                                                       "(patient/*.read, user/*.read, ... that the app is registered for)")
        patient = None
        if "launch" in q:
            held = sandbox.launches.get(q["launch"])
            if held is None or held["client_id"] != app.client_id or "launch" not in scope.split():
                return _redirect_error(q, "invalid_request", "unknown or expired launch, or the launch scope not requested")
            patient = held["patient"]
        elif "launch" in scope.split():
            return _redirect_error(q, "invalid_request", "scope 'launch' asks for an EHR launch, but no launch parameter "
                                                         "was given; a standalone launch asks for launch/patient")
        wanted = {"code_challenge", "redirect_uri", "state", "nonce"}
        req = {"client_id": app.client_id, "scope": scope, "patient": patient, **{k: q[k] for k in wanted if k in q}}
        if patient is None and ("launch/patient" in scope.split() or scope.startswith("patient/") or " patient/" in scope):
            return picker(request, sandbox.waiting.put(req), "", 1)
        return _code(req)

    def _code(req: dict) -> RedirectResponse:
        code = sandbox.codes.put(req)
        return RedirectResponse(_with(req["redirect_uri"], {"code": code, **({"state": req["state"]} if "state" in req else {})}),
                                status_code=302)

    @r.get("/auth/pick", summary="The patient picker of a standalone launch", response_class=HTMLResponse)
    def pick(request: Request, request_id: str, patient: int | None = None, q: str = "", page: int = 1):
        req = sandbox.waiting.get(request_id)
        if req is None:
            raise HTTPException(400, "This launch has expired or is unknown: start it again from the app.")
        if patient is None:
            return picker(request, request_id, q, max(1, page))
        if patient_exists(patient) is None:
            raise HTTPException(404, f"No patient {patient}")
        sandbox.waiting.get(request_id, once=True)
        return _code({**req, "patient": patient})


def _token(r: APIRouter, sandbox: Sandbox, patient_exists: Callable[[int], dict | None]) -> None:
    """The token endpoint: a code and its PKCE verifier for an access token (and an id_token with openid fhirUser)."""
    @r.post("/auth/token", summary="OAuth2 token endpoint (authorization_code grant, PKCE)")
    async def token(request: Request):
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _token_error("invalid_request", "send the form as application/x-www-form-urlencoded")
        body = await request.body()
        if len(body) > 8_192:
            return _token_error("invalid_request", "the form is larger than 8 KiB")
        f = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
        if f.get("grant_type") != "authorization_code":
            return _token_error("unsupported_grant_type", "only grant_type=authorization_code is supported")
        req = sandbox.codes.get(f.get("code", ""), once=True)
        if req is None:
            return _token_error("invalid_grant", "unknown, expired or already used authorization code")
        if f.get("client_id") != req["client_id"] or f.get("redirect_uri") != req["redirect_uri"]:
            return _token_error("invalid_grant", "client_id or redirect_uri differ from the authorization request's")
        verifier = f.get("code_verifier", "")
        if not VERIFIER_RE.match(verifier) or s256(verifier) != req["code_challenge"]:
            return _token_error("invalid_grant", "code_verifier does not match the code_challenge (PKCE S256)")
        return JSONResponse(_tokens(request, req), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _tokens(request: Request, req: dict) -> dict:
        now, scope, pid = int(time.time()), req["scope"], req["patient"]
        claims = {"iss": _base(request) + "/fhir", "iat": now, "exp": now + TOKEN_SECONDS, "client_id": req["client_id"],
                  "scope": scope, "token_use": "access", "jti": secrets.token_hex(8), **({"patient": str(pid)} if pid else {})}
        out = {"access_token": sandbox.sign(claims), "token_type": "Bearer", "expires_in": TOKEN_SECONDS,
               "scope": scope, **({"patient": str(pid), "need_patient_banner": True} if pid else {})}
        if {"openid", "fhirUser"} <= set(scope.split()):
            # the user is the patient's usual GP, as if they had launched the app from the record
            refs = [g.get("reference", "") for g in (patient_exists(pid) or {}).get("generalPractitioner", [])] if pid else []
            gp = next((x for x in refs if x.startswith("Practitioner/")), None)
            out["id_token"] = sandbox.sign({"iss": _base(request) + "/fhir", "sub": gp or "sandbox-user", "aud": req["client_id"],
                                            "iat": now, "exp": now + TOKEN_SECONDS,
                                            **({"fhirUser": _base(request) + "/fhir/" + gp} if gp else {}),
                                            **({"nonce": req["nonce"]} if "nonce" in req else {})})
        return out

    return r
