"""What IT sets for the container: tenant, app credential, cloud and paths.

Read once at start-up from `MENTORING_*` environment variables (and an optional `.env`), then
passed down; there is no module-level instance. Validation fails at start-up with a message
naming the variables, because a job that starts and then fails its first token request at 3 am
helps nobody. Secrets are `SecretStr` and `describe()` only ever says whether they are set.

National cloud endpoints: https://learn.microsoft.com/graph/deployments (Graph service roots
and token service roots per cloud; US Government L4 and L5 (DoD) share login.microsoftonline.us).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Cloud = Literal["global", "usgov", "usgovdod", "china"]

# (Graph service root, Microsoft Entra token service root) per national cloud.
CLOUD_ENDPOINTS: dict[str, tuple[str, str]] = {
    "global": ("https://graph.microsoft.com", "https://login.microsoftonline.com"),
    "usgov": ("https://graph.microsoft.us", "https://login.microsoftonline.us"),
    "usgovdod": ("https://dod-graph.microsoft.us", "https://login.microsoftonline.us"),
    "china": ("https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}

_PREFIX = "MENTORING_"
_CREDENTIAL_VARIABLES = {
    "client_secret": "MENTORING_CLIENT_SECRET",
    "certificate": "MENTORING_CERTIFICATE_PATH",
    "federated_token": "MENTORING_FEDERATED_TOKEN_FILE (or AZURE_FEDERATED_TOKEN_FILE)",
    "managed_identity": "MENTORING_MANAGED_IDENTITY=true",
}


def _default_config_dir() -> Path:
    # In the container the config is mounted at /config; elsewhere use ./config.
    return Path("/config") if Path("/config").is_dir() else Path("config")


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Deployment settings (see module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix=_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore",
        frozen=True,
    )

    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    certificate_path: Path | None = None
    certificate_password: SecretStr | None = None
    federated_token_file: Path | None = None
    managed_identity: bool = False
    managed_identity_client_id: str | None = None

    cloud: Cloud = "global"
    graph_url: str | None = None
    authority_host: str | None = None

    config_dir: Path = Field(default_factory=_default_config_dir)
    templates_dir: Path | None = None
    log_format: Literal["auto", "json", "text"] = "auto"
    max_change_share: float | None = Field(default=None, ge=0.0, le=1.0)
    teams_webhook_url: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _federated_default(cls, data: Any) -> Any:
        # AKS workload identity injects AZURE_FEDERATED_TOKEN_FILE; use it unless another
        # credential was chosen explicitly.
        if not isinstance(data, dict):
            return data
        azure_file = os.environ.get("AZURE_FEDERATED_TOKEN_FILE")
        explicit = any(
            data.get(key) not in (None, "", False, "false")
            for key in ("client_secret", "certificate_path", "federated_token_file",
                        "managed_identity")
        )
        if azure_file and not explicit:
            return {**data, "federated_token_file": azure_file}
        return data

    @model_validator(mode="after")
    def _check(self) -> Settings:
        chosen = self.credential_kinds()
        if not chosen:
            raise ValueError(
                "no app credential configured: set exactly one of "
                + ", ".join(_CREDENTIAL_VARIABLES.values())
            )
        if len(chosen) > 1:
            raise ValueError(
                "contradictory app credentials: "
                + " and ".join(_CREDENTIAL_VARIABLES[kind] for kind in chosen)
                + " are all set; keep exactly one"
            )
        if self.certificate_password is not None and self.certificate_path is None:
            raise ValueError(
                "MENTORING_CERTIFICATE_PASSWORD is set without MENTORING_CERTIFICATE_PATH"
            )
        if self.certificate_path is not None and self.certificate_path.suffix.lower() not in (
            ".pem", ".pfx", ".p12"
        ):
            raise ValueError("MENTORING_CERTIFICATE_PATH must end in .pem, .pfx or .p12")
        if self.managed_identity_client_id and not self.managed_identity:
            raise ValueError(
                "MENTORING_MANAGED_IDENTITY_CLIENT_ID is set but MENTORING_MANAGED_IDENTITY is not"
            )
        for name, url in (("MENTORING_GRAPH_URL", self.graph_url),
                          ("MENTORING_AUTHORITY_HOST", self.authority_host)):
            if url is None:
                continue
            parts = urlsplit(url)
            if parts.scheme == "https" and parts.hostname:
                continue
            if parts.scheme == "http" and _is_loopback(parts.hostname):
                continue
            raise ValueError(f"{name} must be an https URL (plain http only for loopback)")
        return self

    def credential_kinds(self) -> list[str]:
        kinds = []
        if self.client_secret is not None and self.client_secret.get_secret_value():
            kinds.append("client_secret")
        if self.certificate_path is not None:
            kinds.append("certificate")
        if self.federated_token_file is not None:
            kinds.append("federated_token")
        if self.managed_identity:
            kinds.append("managed_identity")
        return kinds

    @property
    def credential_kind(self) -> str:
        """client_secret | certificate | federated_token | managed_identity."""
        return self.credential_kinds()[0]

    @property
    def certificate_format(self) -> Literal["pem", "pfx"] | None:
        if self.certificate_path is None:
            return None
        return "pem" if self.certificate_path.suffix.lower() == ".pem" else "pfx"

    @property
    def effective_graph_url(self) -> str:
        return (self.graph_url or CLOUD_ENDPOINTS[self.cloud][0]).rstrip("/")

    @property
    def effective_authority_host(self) -> str:
        return (self.authority_host or CLOUD_ENDPOINTS[self.cloud][1]).rstrip("/")

    @property
    def authority(self) -> str:
        return f"{self.effective_authority_host}/{self.tenant_id}"

    @property
    def graph_scope(self) -> str:
        """App-only scope; national clouds need their own Graph host in it."""
        return f"{self.effective_graph_url}/.default"

    def describe(self) -> dict[str, Any]:
        """Safe to print or log: secrets appear only as 'set' / 'unset'."""

        def flag(value: SecretStr | None) -> str:
            return "set" if value is not None else "unset"

        return {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "credential": self.credential_kind,
            "client_secret": flag(self.client_secret),
            "certificate_path": str(self.certificate_path) if self.certificate_path else None,
            "certificate_password": flag(self.certificate_password),
            "federated_token_file": (
                str(self.federated_token_file) if self.federated_token_file else None
            ),
            "managed_identity": self.managed_identity,
            "managed_identity_client_id": self.managed_identity_client_id,
            "cloud": self.cloud,
            "graph_url": self.effective_graph_url,
            "authority_host": self.effective_authority_host,
            "config_dir": str(self.config_dir),
            "templates_dir": str(self.templates_dir) if self.templates_dir else None,
            "log_format": self.log_format,
            "max_change_share": self.max_change_share,
            "teams_webhook_url": flag(self.teams_webhook_url),
        }
