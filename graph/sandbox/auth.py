"""The Microsoft identity platform endpoints that msal calls, and bearer-token checks for Graph.

The worker authenticates with the real `msal` library and has no sandbox-only path, so the
sandbox answers msal's own requests, at the paths login.microsoftonline.com uses (host ignored;
the sandbox serves login and Graph from one origin):

* ``GET /common/discovery/instance`` (instance discovery, called when the authority host is not
  a well-known Microsoft host) -> ``tenant_discovery_endpoint`` on the caller's own host;
* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (tenant discovery), endpoints built
  from the request's scheme and host so msal posts back here;
  https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc
* ``POST /{tenant}/oauth2/v2.0/token``: client credentials with a secret, a certificate-signed
  assertion (RS256/PS256, `x5t` / `x5t#S256` header) or a federated assertion;
  https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
  https://learn.microsoft.com/entra/identity-platform/certificate-credentials
  errors carry error, error_description, error_codes, timestamp, trace_id, correlation_id:
  https://learn.microsoft.com/entra/identity-platform/reference-error-codes
* ``GET /metadata/identity/oauth2/token`` (Azure IMDS, msal's ManagedIdentityClient on a VM),
  which requires the ``Metadata: true`` header;
  https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token

Access tokens are JWT-shaped, HS256-signed with a per-sandbox random key, with the claims Graph
relies on (aud, tid, appid, roles, iat, nbf, exp), timed on the sandbox clock.

Client assertion `exp`/`nbf` are not checked: msal stamps them from wall time while the sandbox
may run on a simulated clock; signature, thumbprint, audience, iss and sub are checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from graph.sandbox.core import GraphError, Headers, Router, SandboxRequest, SandboxResponse
from graph.sandbox.directory import AppRegistration

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_DEFAULT_SCOPES = {
    f"{GRAPH_RESOURCE}/.default",
    f"{GRAPH_RESOURCE}//.default",
    f"{GRAPH_APP_ID}/.default",
}
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)


# --- helpers -------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def base_url(req: SandboxRequest) -> str:
    """``scheme://host`` the client used, so URLs we hand out lead back to this sandbox."""
    proto = req.headers.get("X-Forwarded-Proto") or "https"
    host = req.headers.get("X-Forwarded-Host") or req.headers.get("Host") or "localhost"
    return f"{proto}://{host}"


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


# --- tokens ---------------------------------------------------------------------------------


def issue_token(sb: Sandbox, app: AppRegistration) -> tuple[str, int]:
    """A signed access token for Graph and its lifetime in seconds."""
    now = int(sb.clock.now().timestamp())
    lifetime = int(sb.token_lifetime)
    object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-sp:{app.client_id}"))
    claims: dict[str, Any] = {
        "aud": GRAPH_RESOURCE,
        "iss": f"https://sts.windows.net/{sb.state.tenant_id}/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "idtyp": "app",
        "oid": object_id,
        "sub": object_id,
        "tid": sb.state.tenant_id,
        "uti": b64url(uuid.uuid4().bytes),
        "ver": "1.0",
    }
    if app.roles:
        claims["roles"] = sorted(app.roles)
    header = {"typ": "JWT", "alg": "HS256", "kid": "sandbox"}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = hmac.new(sb.signing_key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}", lifetime


def _unauthorized(message: str) -> GraphError:
    return GraphError(
        401, "InvalidAuthenticationToken", message, headers={"WWW-Authenticate": _WWW_AUTHENTICATE}
    )


def authenticate(sb: Sandbox, req: SandboxRequest) -> None:
    """Check the bearer token; fill `req.app_id` and `req.roles`, or raise Graph's 401."""
    raw = req.headers.get("Authorization", "") or ""
    scheme, _, token = raw.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Access token is empty.")
    parts = token.split(".")
    if len(parts) != 3:
        raise _unauthorized(
            "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in "
            "JWS or JWE Compact Serialization Format."
        )
    expected = hmac.new(
        sb.signing_key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256
    ).digest()
    try:
        signature = b64url_decode(parts[2])
        claims = json.loads(b64url_decode(parts[1]))
    except (binascii.Error, ValueError) as exc:
        raise _unauthorized("Access token validation failure.") from exc
    if not hmac.compare_digest(signature, expected) or not isinstance(claims, dict):
        raise _unauthorized("Access token validation failure.")
    if str(claims.get("aud", "")).rstrip("/") not in (GRAPH_RESOURCE, GRAPH_APP_ID):
        raise _unauthorized("Access token validation failure. Invalid audience.")
    if claims.get("tid") != sb.state.tenant_id:
        raise _unauthorized("Access token validation failure. Invalid issuer.")
    if float(claims.get("exp", 0)) <= sb.clock.now().timestamp():
        raise _unauthorized("Lifetime validation failed, the token is expired.")
    req.app_id = str(claims.get("appid"))
    req.roles = frozenset(str(r) for r in claims.get("roles", []))


# --- client credentials ------------------------------------------------------------------------


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


# --- discovery ---------------------------------------------------------------------------------


def openid_configuration(sb: Sandbox, req: SandboxRequest, tenant: str) -> SandboxResponse:
    if tenant.lower() not in sb.state.tenant_names() and tenant.lower() != "organizations":
        return _unknown_tenant(sb, req, tenant)
    base = base_url(req)
    tid = sb.state.tenant_id
    body = {
        "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{GRAPH_RESOURCE}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{tid}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce",
            "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email",
        ],
        "kerberos_endpoint": f"{base}/{tid}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    return SandboxResponse(200, body)


def instance_discovery(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    endpoint = req.query.get("authorization_endpoint")
    if not endpoint:
        return aad_error(
            sb,
            req,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'authorization_endpoint'.",
        )
    parsed = urlsplit(endpoint)
    segments = [s for s in parsed.path.split("/") if s]
    tenant = segments[0] if segments else "common"
    discovery = (
        f"{parsed.scheme or 'https'}://{parsed.netloc}/{tenant}/v2.0/.well-known/"
        "openid-configuration"
    )
    body = {
        "tenant_discovery_endpoint": discovery,
        "api-version": "1.1",
        "metadata": [
            {
                "preferred_network": parsed.netloc,
                "preferred_cache": parsed.netloc,
                "aliases": [parsed.netloc],
            }
        ],
    }
    return SandboxResponse(200, body)


# --- managed identity (IMDS) ---------------------------------------------------------------------


def _imds_error(status: int, error: str, description: str) -> SandboxResponse:
    return SandboxResponse(status, {"error": error, "error_description": description})


def imds_token(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    if (req.headers.get("Metadata", "") or "").lower() != "true":
        return _imds_error(400, "invalid_request", "Required metadata header not specified")
    if not req.query.get("api-version"):
        return _imds_error(
            400, "invalid_request", "Required query variable 'api-version' is missing"
        )
    resource = req.query.get("resource", "")
    if not resource:
        return _imds_error(400, "invalid_request", "Required query variable 'resource' is missing")
    if resource.rstrip("/") not in (GRAPH_RESOURCE, GRAPH_APP_ID):
        return _imds_error(
            400,
            "invalid_resource",
            f"AADSTS500011: The resource principal named {resource} was not found in the "
            f"tenant named {sb.state.tenant_id}.",
        )
    identities = [a for a in sb.state.directory.apps.values() if a.managed_identity]
    wanted = req.query.get("client_id") or req.query.get("object_id")
    if wanted:
        identities = [a for a in identities if a.client_id.lower() == wanted.lower()]
    elif req.query.get("msi_res_id"):
        identities = []
    if len(identities) != 1:
        return _imds_error(400, "invalid_request", "Identity not found")
    app = identities[0]
    token, lifetime = issue_token(sb, app)
    now = int(sb.clock.now().timestamp())
    # IMDS returns its numbers as strings.
    body = {
        "access_token": token,
        "client_id": app.client_id,
        "expires_in": str(lifetime),
        "expires_on": str(now + lifetime),
        "ext_expires_in": str(lifetime),
        "not_before": str(now),
        "resource": resource,
        "token_type": "Bearer",
    }
    return SandboxResponse(200, body)


def register(router: Router) -> None:
    router.add("GET", "/common/discovery/instance", instance_discovery, service="auth")
    router.add(
        "GET", "/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration,
        service="auth",
    )
    router.add("POST", "/{tenant}/oauth2/v2.0/token", token_endpoint, service="auth")
    router.add("GET", "/metadata/identity/oauth2/token", imds_token, service="auth")
