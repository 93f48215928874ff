"""A record of what the sandbox received, with every secret removed.

Used to check what the worker actually sends (`--record FILE` on the server, or
`Sandbox(record_file=...)` in-process) and by `GET /_sandbox/requests`. Secrets never reach
the record: the Authorization header and cookies are dropped, and token-request bodies keep
only their non-secret fields (grant_type, client_id, scope...).
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

from graph.sandbox.core import SandboxRequest

_DROPPED_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-identity-header"}
# Form fields that carry a credential in OAuth token requests.
_SECRET_FIELDS = {
    "client_secret",
    "client_assertion",
    "assertion",
    "refresh_token",
    "password",
    "code",
    "access_token",
}
_MAX_BODY = 64 * 1024


def _is_token_request(req: SandboxRequest) -> bool:
    path = req.path.lower()
    return "/oauth2/" in path or path.startswith("/metadata/identity")


def redacted_body(req: SandboxRequest) -> str | None:
    """The body as text, safe to log: form bodies lose secret fields, token bodies their values."""
    if not req.body:
        return None
    content_type = req.headers.get("Content-Type", "") or ""
    if _is_token_request(req) or "x-www-form-urlencoded" in content_type:
        try:
            fields = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        except ValueError:
            return "[redacted]"
        kept = [
            f"{key}=[redacted]" if key.lower() in _SECRET_FIELDS else f"{key}={value}"
            for key, value in fields
        ]
        return "&".join(kept)
    text = req.body[:_MAX_BODY].decode("utf-8", "replace")
    return text if len(req.body) <= _MAX_BODY else text + "...[truncated]"


def safe_headers(req: SandboxRequest) -> dict[str, str]:
    return {
        key: value
        for key, value in req.headers.items()
        if key.lower() not in _DROPPED_HEADERS and "secret" not in key.lower()
    }


class Recorder:
    """Keeps the last `keep` requests in memory; appends each to a JSON-lines file if given."""

    def __init__(self, path: str | os.PathLike[str] | None = None, keep: int = 1000) -> None:
        self._recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self._file = self.path.open("a", encoding="utf-8")

    def record(
        self, req: SandboxRequest, status: int | str, service: str | None, at: str
    ) -> None:
        entry: dict[str, Any] = {
            "at": at,
            "request_id": req.request_id,
            "method": req.method,
            "version": req.version,
            "path": req.path,
            "query": dict(req.query),
            "headers": safe_headers(req),
            "body": redacted_body(req),
            "app_id": req.app_id,
            "service": service,
            "status": status,
        }
        with self._lock:
            self._recent.append(entry)
            if self._file is not None:
                self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
                self._file.flush()

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._recent)
        return items[-limit:] if limit > 0 else []

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
