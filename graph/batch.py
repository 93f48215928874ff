"""`$batch`: up to 20 requests in one HTTP request, each inner request retried on its own.

A batch saves round trips, but its inner requests succeed and fail one by one: Graph answers
each with its own status and headers (`Retry-After` included), in any order, and a request
whose `dependsOn` dependency failed answers 424 (https://learn.microsoft.com/graph/json-batching).
So retrying the whole envelope would repeat what already succeeded; instead each round resends
only the inner requests that may succeed later (and the 424s waiting on them), within the
client's attempt and wait limits. That round loop cannot be one tenacity call, which is why it
lives here rather than in the single-request pipeline of `graph.client`.

What an inner answer must be (the docs promise one per request, with `id`, `status`, `headers`,
`body`; where they are silent the stricter reading is taken): the envelope must be an object
with a `responses` list, else the whole batch is `MalformedResponse`. An inner request that
got no answer, an answer without an HTTP status or with headers that are no object, or two
different answers for one id, ends as a 502 `MalformedResponse` of its own (retried in the next
round like any server failure; the other inner answers stand). Answers naming an id this batch
did not send are left out and counted in the log. A body is read by the caller, through
`BatchResult.json_object` or `BatchResult.entries`, which refuse a body of the wrong shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graph.answers import expect_entries, expect_object
from graph.errors import (
    GraphApiError,
    MalformedResponse,
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
    label: str = ""  # "GET /v1.0/users/...", for the error an unreadable body raises

    @property
    def ok(self) -> bool:
        return self.error is None

    def json(self) -> Any:
        return self.body

    def json_object(self, *required: str) -> dict[str, Any]:
        """The inner body as a JSON object whose `required` fields are non-empty strings;
        anything else raises `MalformedResponse` naming the inner request."""
        return expect_object(self.body, status=self.status, label=self.label,
                             required=required)

    def entries(self) -> list[dict[str, Any]]:
        """The inner body's `value` list of objects (a collection answered inside a batch)."""
        return expect_entries(self.body, status=self.status, label=self.label)


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
        response = client.request("POST", "/$batch", json={"requests": payload})
    envelope = expect_object(response.json(), status=response.status, label=response.label)
    answers = envelope.get("responses")
    if not isinstance(answers, list):
        raise MalformedResponse(response.status, "a `$batch` answer without a `responses` "
                                "list", method="POST", path=response.label.partition(" ")[2])
    by_id = _answers_by_id(client, answers, ids)
    now = client.clock.now()
    results: dict[str, BatchResult] = {}
    for req in pending:
        path = safe_path(client.relative_url(req.url))
        method = req.method.upper()
        answer = by_id.get(req.id)
        problem = _unreadable(answer)
        if problem is not None:
            # Graph promises one readable answer per id; without one, the request is treated
            # as a server failure of its own (retried in the next round), the others stand.
            code, reason = problem
            error: GraphApiError | None = MalformedResponse(502, reason, method=method,
                                                            path=path, code=code)
            results[req.id] = BatchResult(req.id, 502, {}, None, error, f"{method} {path}")
            client.stats.count(req.method, 502, inner=True, url=req.url)
            continue
        assert isinstance(answer, dict)
        status = int(answer["status"])
        headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
        inner_body = answer.get("body")
        error = None
        if status >= 400:
            error = error_from_body(status, inner_body, headers, method=method, path=path,
                                    now=now)
        client.stats.count(req.method, status, inner=True, url=req.url)
        results[req.id] = BatchResult(req.id, status, headers, inner_body, error,
                                      f"{method} {path}")
    return results


# An id answered twice, differently: which answer is true cannot be told.
_AMBIGUOUS = object()


def _answers_by_id(client: GraphClient, answers: list[Any], ids: set[str]
                   ) -> dict[str, Any]:
    """The inner answers by id. Entries that name no id of this batch are left out and
    named in the log; an id answered twice keeps its answer only when both are the same."""
    by_id: dict[str, Any] = {}
    stray = 0
    for answer in answers:
        answer_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(answer_id, str) or answer_id not in ids:
            stray += 1
            continue
        if answer_id in by_id and by_id[answer_id] != answer:
            by_id[answer_id] = _AMBIGUOUS
        elif answer_id not in by_id:
            by_id[answer_id] = answer
    if stray:
        client.log.warning("POST /$batch: %d inner answer(s) without an id of this batch; "
                           "left out", stray)
    return by_id


def _unreadable(answer: Any) -> tuple[str, str] | None:
    """(code, reason) when `answer` is no readable inner answer; None when it is."""
    if answer is None:
        return "MissingBatchResponse", "no inner response for this id"
    if answer is _AMBIGUOUS:
        return "AmbiguousBatchResponse", "this id was answered twice, differently"
    status = answer.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return "MalformedBatchResponse", "the inner response has no HTTP status"
    if not isinstance(answer.get("headers") or {}, dict):
        return "MalformedBatchResponse", "the inner response's headers are not an object"
    return None


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
