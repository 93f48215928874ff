"""Deployment settings fail clearly at start-up and never show a secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.config.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MENTORING_") or name == "AZURE_FEDERATED_TOKEN_FILE":
            monkeypatch.delenv(name)
    monkeypatch.chdir(str(tmp_path))  # no stray .env
    monkeypatch.setenv("MENTORING_TENANT_ID", "contoso-tenant")
    monkeypatch.setenv("MENTORING_CLIENT_ID", "app-id")


def test_a_missing_credential_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = str(caught.value)
    assert "no app credential configured" in message
    assert "MENTORING_CLIENT_SECRET" in message and "MENTORING_CERTIFICATE_PATH" in message


def test_two_credentials_are_contradictory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("MENTORING_CERTIFICATE_PATH", "/certs/app.pem")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "contradictory app credentials" in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)


def test_secrets_never_appear_in_repr_str_or_describe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("MENTORING_TEAMS_WEBHOOK_URL", "https://hook.example/s3cr3t-hook")
    settings = Settings()
    for text in (repr(settings), str(settings), str(settings.describe())):
        assert "s3cr3t" not in text
    assert settings.describe()["client_secret"] == "set"
    assert settings.describe()["certificate_password"] == "unset"
    assert settings.credential_kind == "client_secret"


def test_the_cloud_chooses_graph_and_authority(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORING_MANAGED_IDENTITY", "true")
    monkeypatch.setenv("MENTORING_CLOUD", "usgovdod")
    settings = Settings()
    assert settings.effective_graph_url == "https://dod-graph.microsoft.us"
    assert settings.authority == "https://login.microsoftonline.us/contoso-tenant"
    assert settings.graph_scope == "https://dod-graph.microsoft.us/.default"


def test_plain_http_is_refused_except_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", "x")
    monkeypatch.setenv("MENTORING_GRAPH_URL", "http://graph.contoso.com")
    with pytest.raises(ValidationError, match="MENTORING_GRAPH_URL must be an https URL"):
        Settings()
    monkeypatch.setenv("MENTORING_GRAPH_URL", "http://127.0.0.1:8765/")
    assert Settings().effective_graph_url == "http://127.0.0.1:8765"


def test_workload_identity_token_file_is_picked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/token")
    settings = Settings()
    assert settings.credential_kind == "federated_token"
    assert str(settings.federated_token_file) == "/var/run/secrets/token"


def test_a_certificate_format_follows_its_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORING_CERTIFICATE_PATH", "/certs/app.pfx")
    monkeypatch.setenv("MENTORING_CERTIFICATE_PASSWORD", "pfx-pass")
    settings = Settings()
    assert settings.certificate_format == "pfx"
    assert "pfx-pass" not in repr(settings)
