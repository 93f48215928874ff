"""The sandbox's HTTP-independent core: requests, responses, Graph-shaped errors, routing.

Both ways of running the sandbox (in-process through a `requests` adapter, and the HTTP server
on 127.0.0.1) turn what they receive into a `SandboxRequest` and send back a `SandboxResponse`,
so every behaviour is written once. Resource modules (calendar, sharepoint, teams, ...) register
handlers on a `Router`; the pipeline in `graph.sandbox.tenant_app` does the cross-cutting work
(auth, permissions, throttling, faults, schema checks, recording) before a handler runs.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Service = Literal["outlook", "sharepoint", "teams", "directory", "auth", "batch", "sandbox"]


class Headers(dict[str, str]):
    """Case-insensitive header mapping (keys stored lower-case)."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class SandboxRequest:
    """One request as Graph would see it.

    `path` is the decoded path without the version prefix (``/users/a@b/events``); `version` is
    ``v1.0`` or ``beta`` ('' for non-Graph endpoints such as the token endpoint); `query` maps
    each query parameter (``$filter``, ``$top``...) to its decoded value.
    """

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = "v1.0"
    # Filled by the pipeline once the bearer token is checked.
    app_id: str | None = None
    roles: frozenset[str] = frozenset()
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def json(self) -> Any:
        """The body as JSON; a malformed body is Graph's 400 BadRequest."""
        if not self.body:
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GraphError(
                400, "BadRequest", f"Unable to read JSON request payload: {exc}"
            ) from exc

    def prefer(self) -> list[str]:
        """The values of every `Prefer` header, split on commas."""
        raw = self.headers.get("Prefer", "")
        return [part.strip() for part in raw.split(",") if part.strip()]


@dataclass
class SandboxResponse:
    status: int
    body: Any = None  # JSON-serialisable value, or bytes for non-JSON bodies
    headers: Headers = field(default_factory=Headers)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes | bytearray):
            return bytes(self.body)
        return json.dumps(self.body, separators=(",", ":")).encode()

    def content_type(self) -> str | None:
        if self.body is None:
            return None
        if isinstance(self.body, bytes | bytearray):
            return str(self.headers.get("Content-Type", "application/octet-stream"))
        return "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"


class GraphError(Exception):
    """An error Graph would answer with: status, code, message, optional headers.

    Rendered as Graph's error body: ``{"error": {"code", "message", "innerError": {...}}}``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        inner_code: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = Headers(headers or {})
        self.inner_code = inner_code

    def to_response(self, request_id: str, now: datetime | None = None) -> SandboxResponse:
        inner: dict[str, Any] = {
            "date": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": request_id,
        }
        if self.inner_code:
            inner["code"] = self.inner_code
        body = {"error": {"code": self.code, "message": self.message, "innerError": inner}}
        headers = Headers(self.headers)
        headers["request-id"] = request_id
        return SandboxResponse(self.status, body, headers)


class Context:
    """What a handler may use: the tenant state, the clock, the sandbox itself.

    Defined as a protocol-like base so resource modules do not import the pipeline; the
    concrete object is `graph.sandbox.tenant_app.Sandbox`.
    """


Handler = Callable[..., SandboxResponse]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: Handler
    service: Service
    # Application permissions any one of which allows the call (Graph's "least to most
    # privileged" list). Empty means no permission check (auth endpoints, sandbox control).
    permissions: tuple[str, ...]
    # Name of the Graph type the JSON body must match (schema check), or None.
    body_type: str | None = None
    # Whether the call counts against a mailbox's concurrency/rate limit: the name of the
    # path parameter that identifies the mailbox (e.g. "user").
    mailbox_param: str | None = None


_PARAM = re.compile(r"\{(\w+)\}")


def compile_template(template: str) -> re.Pattern[str]:
    """``/users/{user}/events/{event_id}`` -> a regex with named groups.

    A parameter matches one path segment; ``{site_path:path}`` style is not needed because the
    SharePoint site-by-path form is matched with its own explicit pattern.
    """
    regex = ""
    pos = 0
    for match in _PARAM.finditer(template):
        regex += re.escape(template[pos : match.start()])
        regex += f"(?P<{match.group(1)}>[^/]+)"
        pos = match.end()
    regex += re.escape(template[pos:])
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        service: Service,
        permissions: Iterable[str] = (),
        body_type: str | None = None,
        mailbox_param: str | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> None:
        self.routes.append(
            Route(
                method.upper(),
                pattern or compile_template(template),
                template,
                handler,
                service,
                tuple(permissions),
                body_type,
                mailbox_param,
            )
        )

    def route(
        self,
        method: str,
        template: str,
        *,
        service: Service,
        permissions: Iterable[str] = (),
        body_type: str | None = None,
        mailbox_param: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.add(
                method,
                template,
                handler,
                service=service,
                permissions=permissions,
                body_type=body_type,
                mailbox_param=mailbox_param,
            )
            return handler

        return decorate

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """Find the route; 404 for an unknown path, 405 for a known path with another method."""
        path_matched = False
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            path_matched = True
            if route.method == method.upper():
                return route, found.groupdict()
        if path_matched:
            raise GraphError(
                405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed here."
            )
        raise GraphError(
            400,
            "BadRequest",
            f"Resource not found for the segment '{path.rstrip('/').rsplit('/', 1)[-1]}'.",
        )


def json_response(body: Any, status: int = 200, **headers: str) -> SandboxResponse:
    named = {key.replace("_", "-"): value for key, value in headers.items()}
    return SandboxResponse(status, body, Headers(named))


def no_content() -> SandboxResponse:
    return SandboxResponse(204)
