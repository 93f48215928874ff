"""`$batch`: up to 20 requests in one HTTP request, each inner request retried on its own.

A batch saves round trips, but its inner requests succeed and fail one by one: Graph answers
each with its own status and headers (`Retry-After` included), in any order, and a request
whose `dependsOn` dependency failed answers 424 (https://learn.microsoft.com/graph/json-batching).
So retrying the whole envelope would repeat what already succeeded; instead each round resends
only the inner requests that may succeed later (and the 424s waiting on them), within the
client's attempt and wait limits. That round loop cannot be one tenacity call, which is why it
lives here rather than in the single-request pipeline of `graph.client`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graph.errors import (
    GraphApiError,
    MalformedResponse,
    ServerError,
    error_from_body,
    is_transient,
    safe_path,
)
from graph.retry import describe

if TYPE_CHECKING:
    from graph.client import GraphClient

BATCH_LIMIT = 20  # https://learn.microsoft.com/graph/json-batching


@dataclass(frozen=True)
class BatchRequest:
    """One request inside `$batch`. `url` is relative to the version root (``/users/x``)."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    mailbox: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """One inner response; `error` is the exception a direct call would have raised."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any
    error: GraphApiError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def json(self) -> Any:
        return self.body


def run_batch(client: GraphClient, requests_: Sequence[BatchRequest]) -> list[BatchResult]:
    """Run requests through `$batch`, in chunks of at most 20, results in input order."""
    results: dict[str, BatchResult] = {}
    for chunk in _chunks(requests_):
        results.update(_run_chunk(client, chunk))
    return [results[r.id] for r in requests_]


def _run_chunk(client: GraphClient, chunk: list[BatchRequest]) -> dict[str, BatchResult]:
    done: dict[str, BatchResult] = {}
    pending = list(chunk)
    idle = 0.0
    for attempt in range(1, client.max_attempts + 1):
        answers = _post_batch(client, pending)
        retry_ids = _retryable(pending, answers)
        for req in pending:
            if req.id not in retry_ids:
                done[req.id] = answers[req.id]
        if not retry_ids:
            return done
        failed = [answers[i] for i in sorted(retry_ids)]
        waits = [
            r.error.retry_after
            for r in failed
            if r.error is not None and r.error.retry_after is not None
        ]
        wait = max(waits) if waits else client.backoff(attempt)
        first = next((r.error for r in failed if r.error and is_transient(r.error)), None)
        summary = f"{len(retry_ids)} of {len(pending)} inner requests failed ({describe(first)})"
        if attempt >= client.max_attempts or idle + wait > client.max_retry_wait:
            client.log.error(
                "giving up on POST /$batch after attempt %d/%d: %s",
                attempt,
                client.max_attempts,
                summary,
            )
            for req in pending:
                done[req.id] = answers[req.id]
            return done
        client.log.warning(
            "attempt %d/%d failed with %s on POST /$batch; will retry in %.1f s",
            attempt,
            client.max_attempts,
            summary,
            wait,
        )
        client.stats.retried(len(retry_ids))
        client.clock.sleep(wait)
        idle += wait
        pending = [r for r in pending if r.id in retry_ids]
    raise AssertionError("unreachable: the loop returns on its last attempt")


def _post_batch(client: GraphClient, pending: list[BatchRequest]) -> dict[str, BatchResult]:
    ids = {r.id for r in pending}
    payload: list[dict[str, Any]] = []
    for req in pending:
        item: dict[str, Any] = {
            "id": req.id,
            "method": req.method.upper(),
            "url": client.relative_url(req.url),
        }
        headers = dict(req.headers)
        if req.body is not None:
            item["body"] = req.body
            headers.setdefault("Content-Type", "application/json")
        if headers:
            item["headers"] = headers
        # A dependency that already succeeded in an earlier round is not in this batch.
        deps = [d for d in req.depends_on if d in ids]
        if deps:
            item["dependsOn"] = deps
        payload.append(item)
    mailboxes: Counter[str] = Counter(r.mailbox for r in pending if r.mailbox)
    pace: AbstractContextManager[None] = (
        client.pacer.slots(mailboxes) if client.pacer and mailboxes else nullcontext()
    )
    with pace:
        body = client.request("POST", "/$batch", json={"requests": payload}).json()
    if not isinstance(body, dict) or not isinstance(body.get("responses", []), list):
        raise MalformedResponse(200, "a `$batch` answer without a `responses` list",
                                method="POST", path="/v1.0/$batch")
    by_id: dict[str, dict[str, Any]] = {}
    for answer in (body or {}).get("responses") or []:
        if isinstance(answer, dict) and "id" in answer:
            by_id[str(answer["id"])] = answer
    now = client.clock.now()
    results: dict[str, BatchResult] = {}
    for req in pending:
        answer = by_id.get(req.id)
        path = safe_path(client.relative_url(req.url))
        if answer is None:
            # Graph promises an answer per id; a missing one is treated as a server error
            # (retryable), the conservative reading.
            error: GraphApiError | None = ServerError(
                502,
                "MissingBatchResponse",
                "no inner response for this id",
                method=req.method.upper(),
                path=path,
            )
            results[req.id] = BatchResult(req.id, 502, {}, None, error)
            client.stats.count(req.method, 502, inner=True, url=req.url)
            continue
        status = int(answer.get("status", 0))
        headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
        inner_body = answer.get("body")
        error = None
        if status >= 400:
            error = error_from_body(
                status, inner_body, headers, method=req.method.upper(), path=path, now=now
            )
        client.stats.count(req.method, status, inner=True, url=req.url)
        results[req.id] = BatchResult(req.id, status, headers, inner_body, error)
    return results


def _retryable(pending: list[BatchRequest], answers: Mapping[str, BatchResult]) -> set[str]:
    """Ids worth sending again: transient failures, and 424s whose dependency is retried."""
    retry = {r.id for r in pending if answers[r.id].error and is_transient(answers[r.id].error)}  # type: ignore[arg-type]
    changed = True
    while changed:
        changed = False
        for req in pending:
            if req.id in retry or answers[req.id].status != 424:
                continue
            if any(dep in retry for dep in req.depends_on):
                retry.add(req.id)
                changed = True
    return retry


def _chunks(requests_: Sequence[BatchRequest]) -> list[list[BatchRequest]]:
    """Split into chunks of at most 20, keeping `depends_on`-linked requests together."""
    index = {r.id: r for r in requests_}
    if len(index) != len(requests_):
        raise ValueError("batch request ids must be unique")
    parent = {r.id: r.id for r in requests_}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for req in requests_:
        for dep in req.depends_on:
            if dep not in index:
                raise ValueError(f"batch request {req.id} depends on unknown id {dep}")
            parent[root(req.id)] = root(dep)
    groups: dict[str, list[BatchRequest]] = {}
    for req in requests_:
        groups.setdefault(root(req.id), []).append(req)
    chunks: list[list[BatchRequest]] = []
    current: list[BatchRequest] = []
    for group in groups.values():
        if len(group) > BATCH_LIMIT:
            raise ValueError(f"{len(group)} linked requests exceed the $batch limit of 20")
        if len(current) + len(group) > BATCH_LIMIT:
            chunks.append(current)
            current = []
        current.extend(group)
    if current:
        chunks.append(current)
    return chunks
