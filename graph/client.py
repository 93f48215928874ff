"""A thin Microsoft Graph HTTP client: tokens, retries, paging, `$batch`, per-mailbox pacing.

The worker needs few things from Graph, but needs them done right at scale: retry only what may
succeed later (429, 500/502/503/504, no answer) and honour `Retry-After`; always stop; follow
every `@odata.nextLink`; batch up to 20 requests and retry only the inner ones that failed; and
pace requests per mailbox so a large program does not live on 429s. The transport (a
`requests.Session`) and the clock are injected, so tests use `responses` or the in-process
sandbox and sleep on a `ManualClock`. The pacer (`graph.pacing`) and the run summary's
counters (`graph.stats`) live beside it.

POST is retried like any other method. That is safe for this worker because every POST it
sends is idempotent: events carry a deterministic `transactionId` (Graph answers a repeated
create with the same id without a second event), list item upserts are looked up by key
first, and `getSchedule` only reads.

Graph facts relied on here:
- throttling: 429 with `Retry-After` in seconds; without it, back off exponentially
  (https://learn.microsoft.com/graph/throttling);
- `$batch`: at most 20 requests, `dependsOn` between them, inner responses each carry their own
  status and headers (`Retry-After` included) and may come back in any order; a request whose
  dependency failed answers 424 (https://learn.microsoft.com/graph/json-batching).
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception

from graph.clock import Clock
from graph.errors import (
    GraphApiError,
    GraphClientError,
    PagingLimitExceeded,
    ServerError,
    TransientError,
    error_from_body,
    is_transient,
    safe_path,
    trim,
)
from graph.pacing import MailboxPacer
from graph.stats import ClientStats

BATCH_LIMIT = 20  # https://learn.microsoft.com/graph/json-batching
DEFAULT_MAX_PAGES = 1000
_LOG = logging.getLogger("graph.client")
T = TypeVar("T")


class TokenSource(Protocol):
    """What the client needs from a credential (`graph.auth.GraphCredential` is one)."""

    def token(self, *, force_refresh: bool = False) -> str: ...


@dataclass(frozen=True)
class GraphRequest:
    """One Graph request, built once by `GraphClient.request` and handed whole to every step of
    its pipeline (pacing, authorization, sending, retrying, error mapping, logging).

    One value instead of loose arguments means every attempt sends the same request (the same
    `client-request-id` included, so support can correlate the retries) and no step can be
    given a different piece of it than another.
    """

    method: str  # upper-case, as logs and counters show it
    # Absolute and already checked to keep Graph's origin: the bearer token goes nowhere else.
    url: str
    # Copies taken when the request is built, so a caller changing its dict cannot change a retry.
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None
    mailbox: str | None = None  # paces the request with the others to this mailbox
    # False: Graph cannot deduplicate it, so a lost answer (maybe carried out) is not retried.
    idempotent: bool = True
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def path(self) -> str:
        """What errors, logs and counters show (see `graph.errors.safe_path`)."""
        return safe_path(self.url)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class GraphResponse:
    status: int
    headers: Mapping[str, str]
    content: bytes = b""

    def json(self) -> Any:
        """The body as JSON; None for an empty body (204 No Content)."""
        if self.status == 204 or not self.content:
            return None
        return jsonlib.loads(self.content)

    @property
    def etag(self) -> str | None:
        """The `ETag` header, else the body's `@odata.etag` (list items, events)."""
        for key, value in self.headers.items():
            if key.lower() == "etag":
                return value
        body = self.json() if self.content else None
        if isinstance(body, dict) and isinstance(body.get("@odata.etag"), str):
            return str(body["@odata.etag"])
        return None


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


def _backoff(attempt: int, rng: random.Random, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
    return rng.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))


class GraphClient:
    """Graph over one `requests.Session`; raises the `graph.errors` tree."""

    def __init__(
        self,
        base_url: str,
        credential: TokenSource,
        session: requests.Session,
        clock: Clock,
        *,
        timeout: tuple[float, float] = (5, 60),
        max_attempts: int = 6,
        max_retry_wait: float = 120,
        pacer: MailboxPacer | None = None,
        logger: logging.Logger | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._origin = (parts.scheme, parts.netloc.lower())
        self._base_path = parts.path.rstrip("/")
        self.credential = credential
        self.session = session
        self.clock = clock
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_retry_wait = max_retry_wait
        # Outlook's per-mailbox limits apply to every client, so pacing is on unless a caller
        # passes its own pacer (tests pass a tighter or looser one).
        self.pacer = pacer if pacer is not None else MailboxPacer(clock)
        self.log = logger or _LOG
        self.stats = ClientStats()
        self._rng = rng or random.Random()

    # -- URLs ------------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        """Absolute URL under `base_url`. Absolute URLs (nextLink) must keep Graph's origin,
        so the bearer token is never sent anywhere else."""
        if "://" in path_or_url:
            parts = urlsplit(path_or_url)
            if (parts.scheme, parts.netloc.lower()) != self._origin:
                raise GraphClientError(
                    f"refusing to send a Graph token to another origin: {parts.scheme}://"
                    f"{parts.netloc}"
                )
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _relative(self, url: str) -> str:
        """A batch inner URL: relative to the version root, as `$batch` requires."""
        if "://" in url:
            full = urlsplit(self._url(url))
            url = full.path[len(self._base_path) :] + (f"?{full.query}" if full.query else "")
        return "/" + url.lstrip("/")

    # -- single requests -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        mailbox: str | None = None,
        idempotent: bool = True,
    ) -> GraphResponse:
        """Send one request with retries; raise `GraphApiError` subclasses on error answers.

        `headers` are passed through (`Prefer`, `If-Match`, `ConsistencyLevel`...); `mailbox`
        (UPN or id) puts the request through the mailbox pacer. `idempotent=False` is for a
        POST that Graph cannot deduplicate (a Teams notification): a 429 or 503 answer means
        nothing was done and is retried, but a lost answer (timeout, dropped connection) is
        not, since the first attempt may have been carried out.
        """
        request = GraphRequest(
            method=method.upper(),
            url=self._url(path_or_url),
            params=_snapshot(params),
            json=json,
            headers=_snapshot(headers),
            mailbox=mailbox,
            idempotent=idempotent,
        )
        return self._with_retries(request)

    def _attempt(self, request: GraphRequest) -> GraphResponse:
        """One attempt. It holds a slot of the request's mailbox while in flight, since
        Outlook counts concurrent requests per mailbox; a retry waits for a slot again."""
        pace: AbstractContextManager[None] = (
            self.pacer.slot(request.mailbox) if self.pacer and request.mailbox else nullcontext()
        )
        with pace:
            return self._send_authorized(request)

    def _send_authorized(self, request: GraphRequest) -> GraphResponse:
        """Send; on 401 fetch a fresh token once and resend (tokens can be revoked or
        rotated before their expiry), then let a second 401 raise `Unauthorized`."""
        response = self._send(request, fresh_token=False)
        if response.status == 401:
            response = self._send(request, fresh_token=True)
        if response.status >= 400:
            raise self._error(request, response)
        return response

    def _send(self, request: GraphRequest, *, fresh_token: bool) -> GraphResponse:
        token = self.credential.token(force_refresh=fresh_token)
        sent = {
            "Accept": "application/json",
            "client-request-id": request.request_id,
            **(dict(request.headers) if request.headers else {}),
            "Authorization": f"Bearer {token}",
        }
        try:
            raw = self.session.request(
                request.method,
                request.url,
                params=dict(request.params) if request.params else None,
                json=request.json,
                headers=sent,
                timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.stats.count(request.method, None, url=request.path)
            raise TransientError(request.method, request.path, type(exc).__name__) from exc
        self.stats.count(request.method, raw.status_code, url=request.path)
        return GraphResponse(raw.status_code, dict(raw.headers), raw.content)

    def _error(self, request: GraphRequest, response: GraphResponse) -> GraphApiError:
        text = response.content.decode("utf-8", errors="replace")
        try:
            parsed = jsonlib.loads(text) if text else None
        except ValueError:
            parsed = None
        return error_from_body(
            response.status,
            parsed,
            response.headers,
            method=request.method,
            path=request.path,
            now=self.clock.now(),
            raw_text=trim(text),
        )

    # -- retries ---------------------------------------------------------------------------

    def _wait_for(self, exc: BaseException | None, attempt: int) -> float:
        if isinstance(exc, GraphApiError) and exc.retry_after is not None:
            return exc.retry_after
        return _backoff(attempt, self._rng)

    def _with_retries(self, request: GraphRequest) -> GraphResponse:
        def retryable(exc: BaseException) -> bool:
            if not request.idempotent:
                # Answers that leave open whether Graph carried the request out.
                if isinstance(exc, TransientError):
                    return False
                if isinstance(exc, GraphApiError) and exc.status == 504:
                    return False
            return is_transient(exc)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self._wait_for(exc, state.attempt_number)

        def stop(state: RetryCallState) -> bool:
            out_of_attempts = state.attempt_number >= self.max_attempts
            out_of_time = state.idle_for + state.upcoming_sleep > self.max_retry_wait
            if out_of_attempts or out_of_time:
                exc = state.outcome.exception() if state.outcome else None
                self.log.error(
                    "giving up on %s after attempt %d/%d: %s",
                    request.label,
                    state.attempt_number,
                    self.max_attempts,
                    _describe(exc),
                )
                return True
            return False

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.stats.retried()
            self.log.warning(
                "attempt %d/%d failed with %s on %s; will retry in %.1f s",
                state.attempt_number,
                self.max_attempts,
                _describe(exc),
                request.label,
                state.upcoming_sleep,
            )

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            stop=stop,
            wait=wait,
            sleep=self.clock.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(self._attempt, request)

    # -- paging ----------------------------------------------------------------------------

    def paged(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        mailbox: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following `@odata.nextLink` (which already carries the
        query, so `params` apply to the first page only) up to `max_pages` pages."""
        url = path
        page_params = params
        for _ in range(max_pages):
            body = self.request(
                "GET", url, params=page_params, headers=headers, mailbox=mailbox
            ).json()
            if not isinstance(body, dict):
                return
            yield from body.get("value") or []
            next_link = body.get("@odata.nextLink")
            if not next_link:
                return
            url, page_params = str(next_link), None
        raise PagingLimitExceeded(safe_path(self._url(path)), max_pages)

    # -- $batch ----------------------------------------------------------------------------

    def batch(self, requests_: Sequence[BatchRequest]) -> list[BatchResult]:
        """Run requests through `$batch`, in chunks of at most 20, results in input order.

        Requests linked by `depends_on` stay in one chunk. Inner 429/5xx answers (and the 424s
        of requests that depended on them) are retried on their own, honouring each inner
        `Retry-After`, within the client's attempt and wait limits; other inner errors come
        back as `BatchResult.error` so one failure does not hide the others.
        """
        results: dict[str, BatchResult] = {}
        for chunk in _chunks(requests_):
            results.update(self._run_chunk(chunk))
        return [results[r.id] for r in requests_]

    def _run_chunk(self, chunk: list[BatchRequest]) -> dict[str, BatchResult]:
        done: dict[str, BatchResult] = {}
        pending = list(chunk)
        idle = 0.0
        for attempt in range(1, self.max_attempts + 1):
            answers = self._post_batch(pending, done)
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
            wait = max(waits) if waits else _backoff(attempt, self._rng)
            first = next((r.error for r in failed if r.error and is_transient(r.error)), None)
            summary = (
                f"{len(retry_ids)} of {len(pending)} inner requests failed ({_describe(first)})"
            )
            if attempt >= self.max_attempts or idle + wait > self.max_retry_wait:
                self.log.error(
                    "giving up on POST /$batch after attempt %d/%d: %s",
                    attempt,
                    self.max_attempts,
                    summary,
                )
                for req in pending:
                    done[req.id] = answers[req.id]
                return done
            self.log.warning(
                "attempt %d/%d failed with %s on POST /$batch; will retry in %.1f s",
                attempt,
                self.max_attempts,
                summary,
                wait,
            )
            self.stats.retried(len(retry_ids))
            self.clock.sleep(wait)
            idle += wait
            pending = [r for r in pending if r.id in retry_ids]
        raise AssertionError("unreachable: the loop returns on its last attempt")

    def _post_batch(
        self, pending: list[BatchRequest], done: Mapping[str, BatchResult]
    ) -> dict[str, BatchResult]:
        ids = {r.id for r in pending}
        payload: list[dict[str, Any]] = []
        for req in pending:
            item: dict[str, Any] = {
                "id": req.id,
                "method": req.method.upper(),
                "url": self._relative(req.url),
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
            self.pacer.slots(mailboxes) if self.pacer and mailboxes else nullcontext()
        )
        with pace:
            body = self.request("POST", "/$batch", json={"requests": payload}).json()
        by_id: dict[str, dict[str, Any]] = {}
        for answer in (body or {}).get("responses") or []:
            if isinstance(answer, dict) and "id" in answer:
                by_id[str(answer["id"])] = answer
        now = self.clock.now()
        results: dict[str, BatchResult] = {}
        for req in pending:
            answer = by_id.get(req.id)
            path = safe_path(self._relative(req.url))
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
                self.stats.count(req.method, 502, inner=True, url=req.url)
                continue
            status = int(answer.get("status", 0))
            headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
            inner_body = answer.get("body")
            error = None
            if status >= 400:
                error = error_from_body(
                    status, inner_body, headers, method=req.method.upper(), path=path, now=now
                )
            self.stats.count(req.method, status, inner=True, url=req.url)
            results[req.id] = BatchResult(req.id, status, headers, inner_body, error)
        return results


def _snapshot(mapping: Mapping[str, T] | None) -> Mapping[str, T] | None:
    return MappingProxyType(dict(mapping)) if mapping else None


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, GraphApiError):
        return exc.short()
    if isinstance(exc, TransientError):
        return exc.reason
    return type(exc).__name__ if exc else "unknown error"


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
