"""Graph access tokens: issuing them and checking the bearer token on every Graph request.

Issuing and checking share the signing key and the claims Graph relies on, and the pipeline
checks tokens on every request without needing the identity platform endpoints, so the two
live together and apart from the endpoints that hand tokens out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from typing import TYPE_CHECKING, Any

from graph.sandbox.core import GraphError, SandboxRequest
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

_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
