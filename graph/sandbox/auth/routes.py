"""The identity endpoints' routes, at the paths msal calls (the host is ignored)."""

from __future__ import annotations

from graph.sandbox.auth.credentials import token_endpoint
from graph.sandbox.auth.discovery import instance_discovery, openid_configuration
from graph.sandbox.auth.imds import imds_token
from graph.sandbox.core import Router


def register(router: Router) -> None:
    router.add("GET", "/common/discovery/instance", instance_discovery, service="auth")
    router.add(
        "GET", "/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration,
        service="auth",
    )
    router.add("POST", "/{tenant}/oauth2/v2.0/token", token_endpoint, service="auth")
    router.add("GET", "/metadata/identity/oauth2/token", imds_token, service="auth")
