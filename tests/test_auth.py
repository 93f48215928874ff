"""Credentials: the real msal path against mocked login endpoints, and no secret ever shown."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from graph.auth import (
    Certificate,
    ClientSecret,
    FederatedToken,
    GraphCredential,
    ManagedIdentity,
    federated_assertion,
    load_certificate,
)
from graph.errors import AuthenticationError

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "s3cr3t~value.DoNotLeak"
LOGIN = "https://login.microsoftonline.com"


def mock_login(base: str = LOGIN, token_base: str | None = None) -> str:
    """Serve the tenant's OpenID configuration; return the token endpoint URL."""
    token_url = f"{token_base or base}/{TENANT}/oauth2/v2.0/token"
    responses.get(
        f"{base}/{TENANT}/v2.0/.well-known/openid-configuration",
        json={
            "issuer": f"{base}/{TENANT}/v2.0",
            "authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/authorize",
            "token_endpoint": token_url,
        },
    )
    # After a failed token request msal looks up the authority's aliases here.
    responses.get(f"{LOGIN}/common/discovery/instance", json={"metadata": []})
    return token_url


def token_ok(token: str = "at-1") -> dict[str, Any]:  # noqa: S107 - a fake token
    return {"json": {"token_type": "Bearer", "expires_in": 3599, "access_token": token}}


def form(call_index: int) -> dict[str, list[str]]:
    body = responses.calls[call_index].request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return parse_qs(text)


def jwt_header(assertion: str) -> dict[str, Any]:
    head = assertion.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def credential(spec: Any, **kwargs: Any) -> GraphCredential:
    return GraphCredential(
        tenant_id=TENANT,
        client_id=CLIENT,
        credential=spec,
        http_client=requests.Session(),
        **kwargs,
    )


@responses.activate
def test_a_client_secret_gets_a_graph_token_once_and_msal_caches_it() -> None:
    token_url = mock_login()
    responses.post(token_url, **token_ok())
    cred = credential(ClientSecret(SECRET))
    assert cred.token() == "at-1"
    assert cred.token() == "at-1"
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1
    assert form(1)["scope"] == ["https://graph.microsoft.com/.default"]


@responses.activate
def test_force_refresh_asks_the_token_endpoint_again() -> None:
    token_url = mock_login()
    responses.post(token_url, **token_ok("at-1"))
    responses.post(token_url, **token_ok("at-2"))
    cred = credential(ClientSecret(SECRET))
    assert cred.token() == "at-1"
    assert cred.token(force_refresh=True) == "at-2"


@responses.activate
def test_an_msal_error_becomes_an_authentication_error_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token_url = mock_login()
    responses.post(
        token_url,
        status=401,
        json={
            "error": "invalid_client",
            "error_description": f"AADSTS7000215: Invalid client secret provided: {SECRET}\r\n"
            "Trace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2027-01-04",
            "correlation_id": "corr-1",
        },
    )
    cred = credential(ClientSecret(SECRET))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as caught:
        cred.token()
    err = caught.value
    assert err.error == "invalid_client" and err.correlation_id == "corr-1"
    assert err.error_description.startswith("AADSTS7000215: Invalid client secret provided")
    assert "Trace ID" not in err.error_description
    for text in (str(err), repr(err), repr(cred), caplog.text):
        assert SECRET not in text


@responses.activate
def test_an_unreachable_authority_is_an_authentication_error_chained_to_the_cause() -> None:
    responses.get(
        f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration",
        body=requests.ConnectionError("no route"),
    )
    with pytest.raises(AuthenticationError) as caught:
        credential(ClientSecret(SECRET)).token()
    assert caught.value.__cause__ is not None


def test_secrets_and_passwords_are_hidden_from_repr() -> None:
    assert SECRET not in repr(ClientSecret(SECRET))
    assert "pw" not in repr(Certificate(Path("/c.pfx"), password="pw"))


def make_certificate(tmp_path: Path) -> tuple[Path, Path, x509.Certificate]:
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
    pem = tmp_path / "app.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"app", key, cert, None, serialization.BestAvailableEncryption(b"pfx-pass")
        )
    )
    return pem, pfx, cert


def test_pem_and_pfx_files_load_to_the_same_key_certificate_and_thumbprint(tmp_path: Path) -> None:
    pem, pfx, cert = make_certificate(tmp_path)
    from_pem = load_certificate(Certificate(pem))
    from_pfx = load_certificate(Certificate(pfx, password="pfx-pass"))
    expected = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert from_pem.thumbprint == from_pfx.thumbprint == expected
    assert from_pem.certificate_pem == from_pfx.certificate_pem
    assert "PRIVATE KEY" not in repr(from_pem)


@pytest.mark.parametrize("kind", ["pem", "pfx"])
@responses.activate
def test_a_certificate_signs_an_assertion_carrying_x5c(tmp_path: Path, kind: str) -> None:
    pem, pfx, cert = make_certificate(tmp_path)
    spec = Certificate(pem) if kind == "pem" else Certificate(pfx, password="pfx-pass")
    token_url = mock_login()
    responses.post(token_url, **token_ok())
    assert credential(spec).token() == "at-1"
    sent = form(1)
    assert sent["client_assertion_type"] == [
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ]
    header = jwt_header(sent["client_assertion"][0])
    der = cert.public_bytes(serialization.Encoding.DER)
    assert [c.replace("\n", "") for c in header["x5c"]] == [base64.b64encode(der).decode()]
    assert "client_secret" not in sent


@responses.activate
def test_the_federated_token_file_is_read_again_for_every_token_request(tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text("federated-1\n")
    read = federated_assertion(token_file)
    assert read() == "federated-1"
    token_file.write_text("federated-2\n")
    assert read() == "federated-2"

    token_file.write_text("federated-3")
    token_url = mock_login()
    responses.post(token_url, **token_ok("at-1"))
    responses.post(token_url, **token_ok("at-2"))
    cred = credential(FederatedToken(token_file))
    cred.token()
    token_file.write_text("federated-4")
    cred.token(force_refresh=True)
    assertions = [form(i)["client_assertion"] for i in (1, 2)]
    assert assertions == [["federated-3"], ["federated-4"]]


@responses.activate
def test_a_user_assigned_managed_identity_asks_imds_for_graph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IDENTITY_SERVER_THUMBPRINT",
        "IMDS_ENDPOINT",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    ):
        monkeypatch.delenv(name, raising=False)
    responses.get(
        "http://169.254.169.254/metadata/identity/oauth2/token",
        json={
            "access_token": "mi-token",
            "expires_in": "3599",
            "resource": "https://graph.microsoft.com",
            "token_type": "Bearer",
        },
    )
    cred = credential(ManagedIdentity(client_id="mi-client"))
    assert cred.token() == "mi-token"
    query = parse_qs(responses.calls[0].request.url.split("?", 1)[1])  # type: ignore[union-attr]
    assert query["resource"] == ["https://graph.microsoft.com"]
    assert query["client_id"] == ["mi-client"]


@responses.activate
def test_a_loopback_http_sandbox_authority_is_reached_through_msal_over_http() -> None:
    sandbox = "http://127.0.0.1:8765"
    # The discovery document advertises https endpoints, as msal requires.
    token_url = mock_login(sandbox, token_base="https://127.0.0.1:8765")
    responses.post(token_url.replace("https://", "http://"), **token_ok("sandbox-token"))
    cred = credential(ClientSecret(SECRET), authority_host=sandbox)
    assert cred.token() == "sandbox-token"
    assert all(c.request.url.startswith(sandbox) for c in responses.calls)  # type: ignore[union-attr]


def test_plain_http_is_refused_for_anything_but_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        credential(ClientSecret(SECRET), authority_host="http://login.example.com")


def test_national_cloud_authorities_are_accepted() -> None:
    cred = credential(
        ClientSecret(SECRET),
        authority_host="https://login.microsoftonline.us",
        graph_scope_root="https://graph.microsoft.us",
    )
    assert "login.microsoftonline.us" in repr(cred)
