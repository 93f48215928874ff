"""Azure's instance metadata token endpoint, for msal's managed identity client.

IMDS speaks its own dialect (a `Metadata` header, query parameters, numbers as strings, a
plain error body), unlike the identity platform's token endpoint, so it is kept on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graph.sandbox.auth.tokens import GRAPH_APP_ID, GRAPH_RESOURCE, issue_token
from graph.sandbox.core import SandboxRequest, SandboxResponse

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox


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
