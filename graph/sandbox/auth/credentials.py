"""The token endpoint: the client credentials grant with a secret or an assertion.

This is where msal's requests are most varied and its errors most specific (each refusal has
its own AADSTS code), so the grant's checks and the identity platform's error body are kept
together, apart from the discovery documents that only point msal here.
"""

from __future__ import annotations

import binascii
import hmac
import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from graph.sandbox.auth.tokens import GRAPH_DEFAULT_SCOPES, b64url_decode, issue_token
from graph.sandbox.core import Headers, SandboxRequest, SandboxResponse
from graph.sandbox.directory import AppRegistration

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%d %H:%M:%SZ")


def aad_error(
    sb: Sandbox, req: SandboxRequest, status: int, error: str, code: int, message: str
) -> SandboxResponse:
    """An identity platform error body, as the token endpoint returns it."""
    now = sb.clock.now()
    trace_id = str(uuid.uuid4())
    correlation_id = req.headers.get("client-request-id") or str(uuid.uuid4())
    stamp = _timestamp(now)
    description = (
        f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"
        f"\r\nTimestamp: {stamp}"
    )
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return SandboxResponse(status, body, Headers({"Cache-Control": "no-store, no-cache"}))


def _unknown_tenant(sb: Sandbox, req: SandboxRequest, tenant: str) -> SandboxResponse:
    return aad_error(
        sb,
        req,
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, this "
        "may happen if there are no active subscriptions for the tenant.",
    )


def _certificate_thumbprints(pem: str) -> tuple[bytes, bytes, Any]:
    """(SHA-1, SHA-256) fingerprints and public key of a PEM certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(pem.encode())
    return cert.fingerprint(hashes.SHA1()), cert.fingerprint(hashes.SHA256()), cert.public_key()  # noqa: S303 - x5t is SHA-1 by definition


def _thumbprint_bytes(value: Any) -> bytes | None:
    """A JOSE `x5t` / `x5t#S256` value (base64url, padded or not) as raw digest bytes."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return b64url_decode(value.rstrip("="))
    except (binascii.Error, ValueError):
        return None


def _check_certificate_assertion(
    sb: Sandbox, req: SandboxRequest, app: AppRegistration, assertion: str, header: dict[str, Any]
) -> SandboxResponse | None:
    """None when the assertion is signed by a certificate registered on the app."""
    import jwt

    sha1_claimed = _thumbprint_bytes(header.get("x5t"))
    sha256_claimed = _thumbprint_bytes(header.get("x5t#S256"))
    key: Any = None
    for pem in app.certificates:
        sha1, sha256, public_key = _certificate_thumbprints(pem)
        if (sha1_claimed and sha1_claimed == sha1) or (
            sha256_claimed and sha256_claimed == sha256
        ):
            key = public_key
            break
    if key is None:
        shown = (sha256_claimed or sha1_claimed or b"").hex().upper()
        return aad_error(
            sb,
            req,
            401,
            "invalid_client",
            700027,
            "The certificate with identifier used to sign the client assertion is not "
            f"registered on application. [Reason - The key was not found., Thumbprint of key "
            f"used by client: '{shown}', Please visit the Azure Portal, Graph Explorer or "
            f"directly use MS Graph to see configured keys for app Id '{app.client_id}'.]",
        )
    try:
        claims = jwt.decode(
            assertion,
            key=key,
            algorithms=["RS256", "PS256"],
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        return aad_error(
            sb, req, 401, "invalid_client", 700027, "Client assertion failed signature validation."
        )
    audience = urlsplit(str(claims.get("aud", "")))
    if audience.path.rstrip("/").lower() != req.path.rstrip("/").lower():
        return aad_error(
            sb,
            req,
            401,
            "invalid_client",
            700021,
            f"Client assertion audience claim does not match Realm issuer. Review the "
            f"documentation at https://aka.ms/certCreds . Actual: '{claims.get('aud')}'.",
        )
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return aad_error(
            sb,
            req,
            401,
            "invalid_client",
            700023,
            "Client assertion contains an invalid issuer or subject: both must be the "
            "application's client id.",
        )
    return None


def _authenticate_client(
    sb: Sandbox, req: SandboxRequest, app: AppRegistration, form: dict[str, str]
) -> SandboxResponse | None:
    secret = form.get("client_secret")
    assertion = form.get("client_assertion")
    if secret is not None:
        if any(hmac.compare_digest(secret, known) for known in app.client_secrets):
            return None
        return aad_error(
            sb,
            req,
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{app.client_id}'.",
        )
    if assertion is None:
        return aad_error(
            sb,
            req,
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    if form.get("client_assertion_type") != JWT_BEARER:
        return aad_error(
            sb,
            req,
            400,
            "invalid_request",
            50027,
            "Invalid JWT token. The client_assertion_type must be "
            f"'{JWT_BEARER}'.",
        )
    header: dict[str, Any] = {}
    head = assertion.split(".", 1)[0]
    try:
        decoded = json.loads(b64url_decode(head))
        if isinstance(decoded, dict):
            header = decoded
    except (binascii.Error, ValueError):
        header = {}
    if "x5t" in header or "x5t#S256" in header:
        return _check_certificate_assertion(sb, req, app, assertion, header)
    if any(hmac.compare_digest(assertion, known) for known in app.federated_assertions):
        return None
    return aad_error(
        sb,
        req,
        401,
        "invalid_client",
        70021,
        "No matching federated identity record found for presented assertion.",
    )


def _token_response(sb: Sandbox, app: AppRegistration) -> SandboxResponse:
    token, lifetime = issue_token(sb, app)
    body = {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }
    return SandboxResponse(200, body, Headers({"Cache-Control": "no-store, no-cache"}))


def token_endpoint(sb: Sandbox, req: SandboxRequest, tenant: str) -> SandboxResponse:
    if tenant.lower() not in sb.state.tenant_names():
        return _unknown_tenant(sb, req, tenant)
    form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    grant_type = form.get("grant_type")
    if grant_type is None:
        return aad_error(
            sb,
            req,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
    if grant_type != "client_credentials":
        return aad_error(
            sb,
            req,
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )
    client_id = form.get("client_id")
    if not client_id:
        return aad_error(
            sb,
            req,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    app = sb.state.directory.apps.get(client_id)
    if app is None or app.managed_identity:
        return aad_error(
            sb,
            req,
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant}'. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You may "
            "have sent your authentication request to the wrong tenant.",
        )
    scopes = form.get("scope", "").split()
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        return aad_error(
            sb,
            req,
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {form.get('scope', '')} is not valid. Client "
            "credential flows must have a scope value with /.default suffixed to the resource "
            "identifier (application ID URI).",
        )
    if scopes[0] not in GRAPH_DEFAULT_SCOPES:
        resource = scopes[0].removesuffix("/.default")
        return aad_error(
            sb,
            req,
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{tenant}. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You might "
            "have sent your authentication request to the wrong tenant.",
        )
    refused = _authenticate_client(sb, req, app, form)
    if refused is not None:
        return refused
    return _token_response(sb, app)
