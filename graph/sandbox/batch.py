"""JSON batching: ``POST /$batch`` with up to 20 requests, each answered on its own.

Semantics follow https://learn.microsoft.com/graph/json-batching :
* at most 20 requests; ids required and unique (case-insensitive), else the whole batch is 400;
* each request has `method` and a `url` relative to the version root (``/users/x/events``);
  a `body` needs a `Content-Type` in `headers`; a JSON body is an object, any other is base64;
* `dependsOn` sequences requests; a request whose dependency failed answers 424 Failed
  Dependency; Graph may answer in any order (ids correlate) - the sandbox keeps request order;
* every inner request goes through the same pipeline as a top-level one (the outer bearer
  token, permissions, throttling and faults per inner request), so an inner 429 carries its own
  `Retry-After` in its inner headers while the batch itself answers 200.
Outlook runs at most 4 inner requests in parallel; the sandbox runs them one after another,
which never exceeds that (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits-for-json-batching).
Where the docs give no exact error text, the sandbox's wording is its own; the status codes
and error codes follow the docs.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from graph.sandbox.core import (
    GraphError,
    Headers,
    Router,
    SandboxRequest,
    SandboxResponse,
    json_response,
)
from graph.sandbox.faults import FaultAbort

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

MAX_BATCH_REQUESTS = 20


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _validate(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("requests"), list):
        raise _bad("Invalid batch payload format.")
    requests: list[dict[str, Any]] = payload["requests"]
    if not requests:
        raise _bad("Invalid batch payload format: the batch holds no requests.")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise _bad(
            f"Number of requests in the batch ({len(requests)}) exceeds the maximum of "
            f"{MAX_BATCH_REQUESTS}."
        )
    seen: set[str] = set()
    for item in requests:
        if not isinstance(item, dict):
            raise _bad("Invalid batch payload format.")
        rid = item.get("id")
        if not isinstance(rid, str) or not rid:
            raise _bad("Invalid batch payload format: every request needs a string id.")
        if rid.lower() in seen:
            raise _bad(f"Batch request contains duplicate id '{rid}'.")
        for key in ("method", "url"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise _bad(f"Invalid batch payload format: request '{rid}' has no {key}.")
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise _bad(f"Invalid batch payload format: dependsOn of '{rid}' must be a list of ids.")
        for dep in depends:
            if dep.lower() not in seen:
                raise _bad(
                    f"Request '{rid}' depends on '{dep}', which is not an earlier request of "
                    "the batch."
                )
        if "body" in item and not any(
            k.lower() == "content-type" for k in (item.get("headers") or {})
        ):
            raise _bad(f"Content-Type header is required when a body is sent (request '{rid}').")
        seen.add(rid.lower())
    return requests


def _inner_request(outer: SandboxRequest, item: dict[str, Any]) -> SandboxRequest:
    url = str(item["url"])
    if "://" in url:
        raise _bad(f"Request '{item['id']}': the url must be relative to the version root.")
    parts = urlsplit("/" + url.lstrip("/"))
    if parts.path.lower() in ("/$batch", "/$batch/"):
        raise _bad("A batch cannot contain a batch request.")
    headers = Headers({str(k): str(v) for k, v in (item.get("headers") or {}).items()})
    for name in ("Authorization", "Host", "X-Forwarded-Proto", "X-Forwarded-Host"):
        if name in outer.headers:
            headers[name] = outer.headers[name]
    body = b""
    if "body" in item:
        raw = item["body"]
        content_type = headers.get("Content-Type", "") or ""
        if isinstance(raw, dict | list) or "json" in content_type.lower():
            body = json.dumps(raw).encode()
        elif isinstance(raw, str):
            try:
                body = base64.b64decode(raw, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise _bad(f"Request '{item['id']}': the body is not base64.") from exc
    return SandboxRequest(
        method=str(item["method"]).upper(),
        path=unquote(parts.path),
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=body,
        version=outer.version,
    )


def _inner_response(sb: Sandbox, req: SandboxRequest, rid: str) -> dict[str, Any]:
    service: str | None = None
    try:
        response, service = sb.dispatch(req)
    except GraphError as err:
        response = sb.error_response(req, err)
    except FaultAbort:
        # One inner request cannot drop the batch's connection; Graph reports a gateway error.
        response = sb.error_response(req, GraphError(504, "UnknownError", "Gateway Timeout"))
    sb.recorder.record(req, response.status, service, sb.clock.now().isoformat())
    headers = dict(response.headers.items())
    content_type = response.content_type()
    if content_type:
        headers["content-type"] = content_type
    entry: dict[str, Any] = {"id": rid, "status": response.status, "headers": headers}
    if response.body is not None:
        entry["body"] = (
            base64.b64encode(bytes(response.body)).decode("ascii")
            if isinstance(response.body, bytes | bytearray)
            else response.body
        )
    return entry


def _failed_dependency(rid: str) -> dict[str, Any]:
    return {
        "id": rid,
        "status": 424,
        "headers": {"content-type": "application/json"},
        "body": {"error": {"code": "FailedDependency", "message": "Failed dependency."}},
    }


def run_batch(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    items = _validate(req.json())
    inner = [_inner_request(req, item) for item in items]
    statuses: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    for item, inner_req in zip(items, inner, strict=True):
        rid = str(item["id"])
        depends = [d.lower() for d in item.get("dependsOn", [])]
        if any(statuses.get(d, 424) >= 400 for d in depends):
            entry = _failed_dependency(rid)
        else:
            entry = _inner_response(sb, inner_req, rid)
        statuses[rid.lower()] = int(entry["status"])
        responses.append(entry)
    return json_response({"responses": responses})


def register(router: Router) -> None:
    router.add("POST", "/$batch", run_batch, service="batch")
