"""App-only access tokens for Microsoft Graph, through msal, for every way the job may run.

The worker runs as a container job with no user, so it uses the client-credentials flow.
Which credential depends on where it runs: a client secret (quick start), a certificate (PEM or
PFX; Entra's recommendation over secrets), a federated token file (AKS workload identity, where
the kubelet rotates the file, so it is re-read on every token request) or a managed identity
(Azure Container Apps / VMs). One `GraphCredential` hides the difference behind `token()`.

The same `requests.Session` that carries Graph traffic carries login traffic (msal's
`http_client=`), so tests and the sandbox tenant see the real msal path, discovery document and
token endpoint included. msal accepts only https authorities; for a sandbox served over plain
HTTP on a loopback address this module gives msal the https form of the address and mounts an
adapter that sends those requests back over http, and refuses to do so for any other host.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from graph.errors import (
    DESCRIPTION_LIMIT,
    UNAVAILABLE_AUTH_ERRORS,
    AuthenticationError,
    IdentityUnavailable,
    trim,
)

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_ROOT = "https://graph.microsoft.com"


@dataclass(frozen=True)
class ClientSecret:
    """A client secret of the Entra app registration."""

    secret: str = field(repr=False)


@dataclass(frozen=True)
class Certificate:
    """A certificate of the app registration: a PEM file holding private key and certificate,
    or a PFX (PKCS#12) file; `password` decrypts either when set."""

    path: Path
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FederatedToken:
    """A federated identity token file (AKS workload identity: `AZURE_FEDERATED_TOKEN_FILE`)."""

    token_file: Path


@dataclass(frozen=True)
class ManagedIdentity:
    """A managed identity: system-assigned, or user-assigned when `client_id` is set."""

    client_id: str | None = None


CredentialSpec = ClientSecret | Certificate | FederatedToken | ManagedIdentity


@dataclass(frozen=True)
class LoadedCertificate:
    """What msal needs to sign a client assertion with x5c (subject name/issuer auth)."""

    private_key_pem: str = field(repr=False)
    certificate_pem: str
    # SHA-1 thumbprint, hex: msal's `thumbprint` key (x5t). Accepted by every msal the project
    # allows (>=1.31); the SHA-256 form is only computed by msal itself from 1.35 on.
    thumbprint: str


def load_certificate(spec: Certificate) -> LoadedCertificate:
    """Read a PEM (key + certificate) or PFX file into msal's certificate credential parts."""
    data = spec.path.read_bytes()
    password = spec.password.encode() if spec.password else None
    if b"-----BEGIN" in data:
        key = serialization.load_pem_private_key(data, password)
        certs = x509.load_pem_x509_certificates(data)
    else:
        pfx_key, pfx_cert, extra = pkcs12.load_key_and_certificates(data, password)
        if pfx_key is None or pfx_cert is None:
            raise ValueError(f"{spec.path}: the PFX file must hold a private key and its cert")
        key = pfx_key
        certs = [pfx_cert, *extra]
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The file may hold a chain; the credential is the certificate matching the key.
    leaf = next(
        (
            cert
            for cert in certs
            if cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            == public
        ),
        None,
    )
    if leaf is None:
        raise ValueError(f"{spec.path}: no certificate matches the private key")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return LoadedCertificate(
        private_key_pem=key_pem,
        certificate_pem=leaf.public_bytes(serialization.Encoding.PEM).decode(),
        # SHA-1 here names the certificate (x5t header); it protects nothing.
        thumbprint=leaf.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
    )


def federated_assertion(token_file: Path) -> Callable[[], str]:
    """A `client_assertion` callable that reads the token file anew on every call.

    The kubelet rotates the projected token (about hourly); a value read once at start-up
    would expire under a long run.
    """

    def read() -> str:
        return token_file.read_text(encoding="utf-8").strip()

    return read


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _LoopbackHttpsToHttp(requests.adapters.BaseAdapter):
    """Send `https://<loopback>:<port>/...` requests to `http://` through the session's own
    adapter for that address (a real socket, or the sandbox's in-process adapter)."""

    def __init__(self, session: requests.Session) -> None:
        super().__init__()
        self._session = session

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = str(request.url)
        parts = urlsplit(url)
        if parts.scheme != "https" or not is_loopback(parts.hostname or ""):
            raise requests.exceptions.InvalidURL("loopback rewrite refused for a non-loopback host")
        plain = urlunsplit(("http", *parts[1:]))
        request.url = plain
        # As a TLS-terminating proxy would: the server builds its own URLs (msal's token
        # endpoint in the discovery document) with the scheme the client used.
        request.headers["X-Forwarded-Proto"] = "https"
        return self._session.get_adapter(plain).send(request, **kwargs)

    def close(self) -> None:
        """Nothing to close: the session closes the adapter this one delegates to."""


def _msal_authority(authority_host: str, tenant_id: str, session: requests.Session) -> str:
    """The https authority URL for msal; mounts the loopback rewrite when the host is http."""
    parts = urlsplit(authority_host.rstrip("/"))
    if parts.scheme == "https":
        return f"{authority_host.rstrip('/')}/{tenant_id}"
    if parts.scheme != "http" or not is_loopback(parts.hostname or ""):
        raise ValueError(
            "authority_host must be https; plain http is allowed only for a loopback sandbox"
        )
    https_base = urlunsplit(("https", parts.netloc, "", "", ""))
    session.mount(https_base + "/", _LoopbackHttpsToHttp(session))
    return f"{https_base}/{tenant_id}"


class GraphCredential:
    """App-only Graph tokens. Thread-safe; msal caches tokens and renews them near expiry."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        credential: CredentialSpec,
        http_client: requests.Session,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        graph_scope_root: str = DEFAULT_GRAPH_ROOT,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.credential = credential
        self.graph_scope_root = graph_scope_root.rstrip("/")
        self._session = http_client
        self._authority = _msal_authority(authority_host, tenant_id, http_client)
        # Instance discovery asks login.microsoftonline.com whether the authority is a known
        # Entra host; a loopback sandbox is not one and must not cause outside traffic.
        self._instance_discovery = not is_loopback(urlsplit(self._authority).hostname or "")
        self._cache = msal.TokenCache()
        self._app: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"GraphCredential(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, "
            f"credential={self.credential!r}, authority={self._authority!r})"
        )

    def token(self, *, force_refresh: bool = False) -> str:
        """A valid access token for Graph; `force_refresh` drops cached ones first (after a 401)."""
        with self._lock:
            try:
                app = self._application()
                if force_refresh:
                    for entry in list(
                        self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
                    ):
                        self._cache.remove_at(entry)
                if isinstance(self.credential, ManagedIdentity):
                    result = app.acquire_token_for_client(resource=self.graph_scope_root)
                else:
                    result = app.acquire_token_for_client(
                        scopes=[f"{self.graph_scope_root}/.default"]
                    )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise IdentityUnavailable(type(exc).__name__, self._scrub(str(exc))) from exc
            except (OSError, ValueError, requests.RequestException) as exc:
                # Discovery failures surface from msal as ValueError, an unreadable
                # certificate or token file as OSError/ValueError.
                raise AuthenticationError(type(exc).__name__, self._scrub(str(exc))) from exc
        return self._checked(result)

    def _checked(self, result: Mapping[str, Any] | None) -> str:
        if not isinstance(result, Mapping):
            raise AuthenticationError("no_response", "msal returned no result")
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        error = str(result.get("error") or "no_access_token")
        kind = IdentityUnavailable if error in UNAVAILABLE_AUTH_ERRORS else AuthenticationError
        raise kind(
            error,
            self._scrub(str(result.get("error_description") or "")),
            str(result["correlation_id"]) if result.get("correlation_id") else None,
        )

    def _secrets(self) -> list[str]:
        spec = self.credential
        if isinstance(spec, ClientSecret):
            return [spec.secret]
        if isinstance(spec, Certificate) and spec.password:
            return [spec.password]
        if isinstance(spec, FederatedToken):
            try:
                return [spec.token_file.read_text(encoding="utf-8").strip()]
            except OSError:
                return []
        return []

    def _scrub(self, text: str) -> str:
        """First line of an error description, trimmed, with any known secret blanked."""
        first = text.strip().splitlines()[0] if text.strip() else ""
        for secret in self._secrets():
            if secret:
                first = first.replace(secret, "***")
        return trim(first, DESCRIPTION_LIMIT)

    def _application(self) -> Any:
        """Build the msal application on first use: its constructor fetches the tenant's
        OpenID configuration, which is network I/O and may fail like any token request."""
        if self._app is not None:
            return self._app
        spec = self.credential
        if isinstance(spec, ManagedIdentity):
            identity = (
                msal.UserAssignedManagedIdentity(client_id=spec.client_id)
                if spec.client_id
                else msal.SystemAssignedManagedIdentity()
            )
            self._app = msal.ManagedIdentityClient(
                identity, http_client=self._session, token_cache=self._cache
            )
            return self._app
        client_credential: str | dict[str, Any]
        if isinstance(spec, ClientSecret):
            client_credential = spec.secret
        elif isinstance(spec, Certificate):
            loaded = load_certificate(spec)
            client_credential = {
                "private_key": loaded.private_key_pem,
                "thumbprint": loaded.thumbprint,
                # Sending x5c lets Entra use subject name/issuer validation and rollover.
                "public_certificate": loaded.certificate_pem,
            }
        else:
            client_credential = {"client_assertion": federated_assertion(spec.token_file)}
        self._app = msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=client_credential,
            authority=self._authority,
            http_client=self._session,
            token_cache=self._cache,
            instance_discovery=self._instance_discovery,
        )
        return self._app
