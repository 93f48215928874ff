"""The discovery documents msal reads before asking for a token.

They must point msal back at whichever host and scheme it used to reach the sandbox, which
is also what every other sandbox URL needs, so `base_url` lives here with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from graph.sandbox.auth.credentials import _unknown_tenant, aad_error
from graph.sandbox.auth.tokens import GRAPH_RESOURCE
from graph.sandbox.core import SandboxRequest, SandboxResponse

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox


def base_url(req: SandboxRequest) -> str:
    """``scheme://host`` the client used, so URLs we hand out lead back to this sandbox."""
    proto = req.headers.get("X-Forwarded-Proto") or "https"
    host = req.headers.get("X-Forwarded-Host") or req.headers.get("Host") or "localhost"
    return f"{proto}://{host}"


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
