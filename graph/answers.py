"""What a Graph answer must look like before anything reads a field of it.

An answer is read up to a size bound (`read_body`): past it the worker stops reading rather
than hold a hostile or broken body in memory. Graph documents JSON answers (`Content-Type:
application/json`, an object per resource, a `value` list of objects per collection page). A
proxy's HTML page, a body cut off mid-way, a body nested deeper than any Graph resource, or an
object where a list belongs are not answers the worker can act on: each becomes
`MalformedResponse` naming the request, here in one place, so the resource helpers
(`graph.calendar`, `graph.sharepoint`, `graph.teams`) and the paging and `$batch` loops all read
answers the same way and never meet a bare decoding error.

A successful answer whose body is labelled as something else than JSON (`text/html` from a
login proxy, `text/plain`) is refused even when the bytes happen to parse: what sent it is not
Graph. A body with no `Content-Type` at all is parsed, and refused if it is not JSON (Graph
labels its bodies; test doubles and some proxies do not, and the parse is the real check).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from graph.errors import MalformedResponse, OversizedResponse, TransientError

_CHUNK = 64 * 1024


def _split(label: str) -> tuple[str, str]:
    method, _, path = label.partition(" ")
    return method, path


def _snippet(content: bytes) -> str:
    return content[:200].decode("utf-8", "replace")


def read_body(raw: requests.Response, *, limit: int, method: str, path: str) -> bytes:
    """The body of a streamed answer, at most `limit` bytes of it (decompressed, so a small
    gzip bomb is caught too). A successful answer over the bound raises `OversizedResponse`
    (a declared `Content-Length` over it, before reading anything); an error answer is cut
    there, since only its first lines are ever shown."""
    failed = raw.status_code >= 400
    declared = raw.headers.get("Content-Length", "")
    if not failed and declared.isdigit() and int(declared) > limit:
        raise OversizedResponse(raw.status_code, limit, method=method, path=path)
    chunks: list[bytes] = []
    size = 0
    # An adapter may hand back a response already read (no stream behind it).
    stream = raw.iter_content(_CHUNK) if raw.raw is not None else iter([raw.content or b""])
    try:
        for chunk in stream:
            size += len(chunk)
            if size > limit:
                if failed:
                    chunks.append(chunk[: len(chunk) - (size - limit)])
                    break
                raise OversizedResponse(raw.status_code, limit, method=method, path=path)
            chunks.append(chunk)
    except requests.exceptions.ContentDecodingError as exc:
        raise MalformedResponse(raw.status_code, "the answer cannot be decompressed "
                                f"({type(exc).__name__})", method=method, path=path) from exc
    except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError,
            requests.Timeout) as exc:
        # The answer broke off: like no answer at all (retried when that is safe).
        raise TransientError(method, path,
                             f"the answer broke off ({type(exc).__name__})") from exc
    return b"".join(chunks)


def is_json_type(content_type: str | None) -> bool:
    """`application/json` (with any parameters) or a structured `+json` type."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def decode_json(status: int, headers: Mapping[str, str], content: bytes, label: str) -> Any:
    """The body of an answer as JSON; None for an empty body (204 No Content)."""
    if status == 204 or not content:
        return None
    method, path = _split(label)
    if status < 400:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        if content_type is not None and not is_json_type(content_type):
            media = content_type.split(";", 1)[0].strip()[:60]
            raise MalformedResponse(status, f"the answer is {media or 'of no type'}, not JSON",
                                    method=method, path=path, body=_snippet(content))
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: a body nested deeper than the parser's stack (no Graph resource is).
        raise MalformedResponse(status, f"the answer is not JSON ({type(exc).__name__}: "
                                f"{str(exc)[:80]})", method=method, path=path,
                                body=_snippet(content)) from exc


def expect_object(body: Any, *, status: int, label: str,
                  required: Sequence[str] = ()) -> dict[str, Any]:
    """`body` as a JSON object whose `required` fields are non-empty strings (ids, mostly);
    an empty body (204) counts as an object without fields."""
    method, path = _split(label)
    if body is None and not required:
        return {}
    if not isinstance(body, dict):
        raise MalformedResponse(status, f"the answer is {kind_of(body)}, not a JSON object",
                                method=method, path=path)
    for name in required:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise MalformedResponse(status, f"the answer's `{name}` is {kind_of(value)}, not a "
                                    "string", method=method, path=path)
    return body


def expect_entries(body: Any, *, status: int, label: str, max_entries: int | None = None,
                   ) -> list[dict[str, Any]]:
    """The `value` list of a collection answer, every entry an object (an entry that is not
    could be anything, so the whole page is refused rather than one entry skipped)."""
    method, path = _split(label)
    page = expect_object(body, status=status, label=label)
    value = page.get("value")
    if not isinstance(value, list):
        raise MalformedResponse(status, f"a collection answer whose `value` is {kind_of(value)}, "
                                "not a list", method=method, path=path)
    if max_entries is not None and len(value) > max_entries:
        raise MalformedResponse(status, f"a page of {len(value)} entries, more than the "
                                f"{max_entries} asked for", method=method, path=path)
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise MalformedResponse(status, f"entry {index} of `value` is {kind_of(entry)}, not "
                                    "an object", method=method, path=path)
    return value


def kind_of(value: Any) -> str:
    """What a JSON value is, for a message: never the value itself (it may be personal)."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
