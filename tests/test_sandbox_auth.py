"""The real msal library signs in against the sandbox: secret, certificate, federated, MI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from graph.clock import ManualClock
from graph.sandbox.core import SandboxRequest, SandboxResponse, json_response
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session

TENANT = "11111111-2222-3333-4444-555555555555"
AUTHORITY = f"https://login.sandbox.test/{TENANT}"
SCOPE = ["https://graph.microsoft.com/.default"]


def whoami(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    return json_response({"app": req.app_id, "roles": sorted(req.roles)})


def make_sandbox() -> Sandbox:
    sb = Sandbox(
        TenantState(tenant_id=TENANT, domains=["contoso.test"]), ManualClock(datetime.now(UTC))
    )
    sb.router.add("GET", "/sandboxWhoami", whoami, service="directory")
    return sb


def self_signed() -> tuple[str, str]:
    """(private key PEM, certificate PEM) of a fresh self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mentoring-worker")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def confidential(
    sb: Sandbox, client_id: str, credential: object
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=AUTHORITY,
        http_client=sandbox_session(sb),
    )


def call_graph(sb: Sandbox, token: str) -> requests.Response:
    return sandbox_session(sb).get(
        "https://graph.microsoft.com/v1.0/sandboxWhoami",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_msal_gets_a_token_with_a_client_secret_and_graph_accepts_it() -> None:
    sb = make_sandbox()
    sb.register_app("app-secret", secret="the-secret", roles=["Calendars.ReadWrite"])
    result = confidential(sb, "app-secret", "the-secret").acquire_token_for_client(SCOPE)
    assert "access_token" in result, result
    assert result["expires_in"] == 3599
    answer = call_graph(sb, result["access_token"]).json()
    assert answer == {"app": "app-secret", "roles": ["Calendars.ReadWrite"]}


def test_msal_reports_a_wrong_secret_as_invalid_client_7000215() -> None:
    sb = make_sandbox()
    sb.register_app("app-secret", secret="the-secret")
    result = confidential(sb, "app-secret", "wrong").acquire_token_for_client(SCOPE)
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert "wrong" not in result["error_description"]


def test_msal_reports_an_unknown_app_as_unauthorized_client_700016() -> None:
    sb = make_sandbox()
    result = confidential(sb, "ghost-app", "x").acquire_token_for_client(SCOPE)
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]
    assert {"trace_id", "correlation_id", "timestamp"} <= result.keys()


def test_a_scope_without_default_suffix_is_invalid_scope() -> None:
    sb = make_sandbox()
    sb.register_app("app-secret", secret="the-secret")
    result = confidential(sb, "app-secret", "the-secret").acquire_token_for_client(
        ["https://graph.microsoft.com/Calendars.Read"]
    )
    assert result["error"] == "invalid_scope"
    assert result["error_codes"] == [1002012]


def test_msal_signs_in_with_a_certificate_registered_on_the_app() -> None:
    sb = make_sandbox()
    key_pem, cert_pem = self_signed()
    sb.register_app("app-cert", certificate_pem=cert_pem, roles=["Sites.Selected"])
    credential = {"private_key": key_pem, "public_certificate": cert_pem}
    result = confidential(sb, "app-cert", credential).acquire_token_for_client(SCOPE)
    assert "access_token" in result, result
    assert call_graph(sb, result["access_token"]).json()["roles"] == ["Sites.Selected"]


def test_a_certificate_not_registered_on_the_app_is_refused_with_700027() -> None:
    sb = make_sandbox()
    _, registered = self_signed()
    other_key, other_cert = self_signed()
    sb.register_app("app-cert", certificate_pem=registered)
    credential = {"private_key": other_key, "public_certificate": other_cert}
    result = confidential(sb, "app-cert", credential).acquire_token_for_client(SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]


def test_an_assertion_signed_by_another_key_with_a_registered_thumbprint_is_refused() -> None:
    sb = make_sandbox()
    _, registered = self_signed()
    other_key, _ = self_signed()
    sb.register_app("app-cert", certificate_pem=registered)
    # The header names the registered certificate, the signature comes from another key.
    credential = {"private_key": other_key, "public_certificate": registered}
    result = confidential(sb, "app-cert", credential).acquire_token_for_client(SCOPE)
    assert result["error"] == "invalid_client"
    assert "signature validation" in result["error_description"]


def test_msal_signs_in_with_a_federated_assertion_read_on_each_call() -> None:
    sb = make_sandbox()
    sb.register_app("app-fed", federated_assertion="workload-token-1", roles=["User.Read.All"])
    reads: list[int] = []

    def assertion() -> str:
        reads.append(1)
        return "workload-token-1"

    app = confidential(sb, "app-fed", {"client_assertion": assertion})
    result = app.acquire_token_for_client(SCOPE)
    assert "access_token" in result, result
    assert reads
    refused = confidential(sb, "app-fed", {"client_assertion": lambda: "stale"})
    assert refused.acquire_token_for_client(SCOPE)["error"] == "invalid_client"


def test_msal_managed_identity_gets_a_token_from_imds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    ):
        monkeypatch.delenv(name, raising=False)
    sb = make_sandbox()
    sb.register_app("mi-app", managed_identity=True, roles=["TeamsActivity.Send"])
    client = msal.ManagedIdentityClient(
        msal.SystemAssignedManagedIdentity(), http_client=sandbox_session(sb)
    )
    result = client.acquire_token_for_client(resource="https://graph.microsoft.com")
    assert "access_token" in result, result
    assert call_graph(sb, result["access_token"]).json()["app"] == "mi-app"
    user_assigned = msal.ManagedIdentityClient(
        msal.UserAssignedManagedIdentity(client_id="mi-app"), http_client=sandbox_session(sb)
    )
    assert "access_token" in user_assigned.acquire_token_for_client(
        resource="https://graph.microsoft.com"
    )


def test_imds_requires_the_metadata_header() -> None:
    sb = make_sandbox()
    sb.register_app("mi-app", managed_identity=True)
    response = sandbox_session(sb).get(
        "http://169.254.169.254/metadata/identity/oauth2/token"
        "?api-version=2018-02-01&resource=https://graph.microsoft.com",
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_openid_configuration_points_back_at_the_callers_host() -> None:
    sb = make_sandbox()
    body = (
        sandbox_session(sb)
        .get(
            "https://login.sandbox.test/contoso.test/v2.0/.well-known/openid-configuration",
            timeout=5,
        )
        .json()
    )
    assert body["token_endpoint"] == f"https://login.sandbox.test/{TENANT}/oauth2/v2.0/token"
    unknown = sandbox_session(sb).get(
        "https://login.sandbox.test/other.test/v2.0/.well-known/openid-configuration", timeout=5
    )
    assert unknown.status_code == 400
    assert unknown.json()["error_codes"] == [90002]


def test_token_lifetime_follows_the_sandbox_setting() -> None:
    sb = Sandbox(TenantState(tenant_id=TENANT), ManualClock(datetime.now(UTC)), token_lifetime=120)
    sb.register_app("short", secret="s")
    result = confidential(sb, "short", "s").acquire_token_for_client(SCOPE)
    assert result["expires_in"] == 120
