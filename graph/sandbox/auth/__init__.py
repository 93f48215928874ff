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

The package is cut by endpoint: `tokens` (issuing and checking Graph tokens), `credentials`
(the token endpoint), `discovery` (the discovery documents), `imds` (managed identity) and
`routes`. The names other modules use are re-exported here.
"""

from graph.sandbox.auth.credentials import JWT_BEARER, aad_error, token_endpoint
from graph.sandbox.auth.discovery import base_url, instance_discovery, openid_configuration
from graph.sandbox.auth.imds import imds_token
from graph.sandbox.auth.routes import register
from graph.sandbox.auth.tokens import (
    GRAPH_APP_ID,
    GRAPH_DEFAULT_SCOPES,
    GRAPH_RESOURCE,
    authenticate,
    b64url,
    b64url_decode,
    issue_token,
)

__all__ = [
    "GRAPH_APP_ID",
    "GRAPH_DEFAULT_SCOPES",
    "GRAPH_RESOURCE",
    "JWT_BEARER",
    "aad_error",
    "authenticate",
    "b64url",
    "b64url_decode",
    "base_url",
    "imds_token",
    "instance_discovery",
    "issue_token",
    "openid_configuration",
    "register",
    "token_endpoint",
]
