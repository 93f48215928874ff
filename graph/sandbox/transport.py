"""In-process transport: a `requests` adapter that hands every request to `Sandbox.handle`.

Fast tests run the worker's real HTTP code (and msal's) without sockets: mount the adapter on a
`requests.Session` and any URL, whatever its host, reaches the sandbox. ``/v1.0/...`` and
``/beta/...`` are Graph (the version goes to `req.version`); anything else (token endpoints,
IMDS, ``/_sandbox/...``) passes with version ''. Injected faults surface as the exceptions a
real network gives: a dropped connection as `requests.ConnectionError`, a timeout as
`requests.ReadTimeout`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from graph.sandbox.core import Headers, SandboxRequest, SandboxResponse
from graph.sandbox.faults import ConnectionDropped, ResponseTimeout

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

GRAPH_VERSIONS = ("v1.0", "beta")


def split_version(path: str) -> tuple[str, str]:
    """``/v1.0/users`` -> (``v1.0``, ``/users``); a non-Graph path -> ('', path)."""
    for version in GRAPH_VERSIONS:
        prefix = f"/{version}"
        if path == prefix or path.startswith(prefix + "/"):
            return version, path[len(prefix) :] or "/"
    return "", path


def to_sandbox_request(
    method: str, url: str, headers: Mapping[str, str], body: bytes, scheme_default: str = "https"
) -> SandboxRequest:
    parts = urlsplit(url)
    version, path = split_version(unquote(parts.path) or "/")
    sandbox_headers = Headers(headers)
    if "Host" not in sandbox_headers and parts.netloc:
        sandbox_headers["Host"] = parts.netloc
    if "X-Forwarded-Proto" not in sandbox_headers:
        sandbox_headers["X-Forwarded-Proto"] = parts.scheme or scheme_default
    return SandboxRequest(
        method=method.upper(),
        path=path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=sandbox_headers,
        body=body,
        version=version,
    )


def response_headers(response: SandboxResponse, payload: bytes) -> dict[str, str]:
    headers = dict(response.headers.items())
    content_type = response.content_type()
    if content_type:
        headers["content-type"] = content_type
    headers["content-length"] = str(len(payload))
    return headers


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, Iterable):
        # A generator or other iterable of chunks.
        return b"".join(c if isinstance(c, bytes) else str(c).encode() for c in body)
    raise TypeError(f"unsupported request body type {type(body).__name__}")


class SandboxAdapter(BaseAdapter):
    """Routes every request of a session into a `Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: object = True,
        cert: object = None,
        proxies: object = None,
    ) -> requests.Response:
        sandbox_req = to_sandbox_request(
            request.method or "GET",
            request.url or "/",
            {str(k): str(v) for k, v in request.headers.items()},
            _body_bytes(request.body),
        )
        try:
            answer = self.sandbox.handle(sandbox_req)
        except ConnectionDropped as exc:
            raise requests.ConnectionError(
                "Connection aborted: the sandbox dropped the connection.", request=request
            ) from exc
        except ResponseTimeout as exc:
            raise requests.ReadTimeout(
                "Read timed out (injected by the sandbox).", request=request
            ) from exc
        payload = answer.encoded()
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(response_headers(answer, payload))
        response._content = payload
        response._content_consumed = True  # type: ignore[attr-defined]
        response.raw = io.BytesIO(payload)
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        try:
            response.reason = HTTPStatus(answer.status).phrase
        except ValueError:
            response.reason = ""
        response.elapsed = timedelta(0)
        response.connection = self  # type: ignore[assignment]  # no HTTPAdapter here
        return response

    def close(self) -> None:
        """Nothing to release: no sockets."""


def sandbox_session(sandbox: Sandbox) -> requests.Session:
    """A `requests.Session` whose every http(s) request goes to `sandbox`."""
    session = requests.Session()
    adapter = SandboxAdapter(sandbox)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
