"""A thin Microsoft Graph HTTP client: tokens, retries and paging for one request at a time.

The worker needs few things from Graph, but needs them done right at scale: retry only what may
succeed later (429, 500/502/503/504, no answer) and honour `Retry-After`; always stop; follow
every `@odata.nextLink`. The transport (a `requests.Session`) and the clock are injected, so
tests use `responses` or the in-process sandbox and sleep on a `ManualClock`. Each request is
one frozen `GraphRequest` from the moment it is built, so pacing, authorization, sending,
retrying, error mapping and logging all see the same request, attempt after attempt.

An answer is trusted no further than it is checked: bodies are streamed and read up to
`max_response_bytes` (`OversizedResponse` past it), an answer that breaks off is a lost answer
(`TransientError`), and a body is JSON of the documented shape or `MalformedResponse`
(`graph.answers`). Neither is retried at once: the same request would read the same way.

What lives beside it: `graph.batch` (`$batch`, whose inner requests are retried one by one),
`graph.paging` (following nextLinks safely), `graph.answers` (what an answer must look like),
`graph.pacing` (per-mailbox limits, applied before sending), `graph.retry` (waits and log
wording shared by both retry paths), `graph.stats` (the run summary's counters).

POST is retried like any other method. That is safe for this worker because every POST it
sends is idempotent: events carry a deterministic `transactionId` (Graph answers a repeated
create with the same id without a second event), list item upserts are looked up by key
first, and `getSchedule` only reads. A POST that is not (a Teams notification) says so with
`idempotent=False`.

Graph throttles with 429 and `Retry-After` in seconds; without it, back off exponentially
(https://learn.microsoft.com/graph/throttling).
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception

from graph import paging, retry
from graph.answers import decode_json, expect_entries, expect_object, read_body
from graph.batch import BatchRequest, BatchResult, run_batch
from graph.clock import Clock
from graph.errors import (
    AnswerLost,
    GraphApiError,
    GraphClientError,
    TransientError,
    error_from_body,
    is_transient,
    safe_path,
    trim,
)
from graph.pacing import MailboxPacer
from graph.stats import ClientStats

DEFAULT_MAX_PAGES = paging.DEFAULT_MAX_PAGES
# Read at most this much of one answer. Graph's largest answers here (a page of 1000 list
# items, 20 people's free/busy over 61 days) stay in single megabytes; past this bound an
# answer is broken or hostile, and reading on would only take the worker's memory.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
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
    label: str = ""  # "GET /v1.0/...", for the error an unreadable body raises

    def json(self) -> Any:
        """The body as JSON; None for an empty body (204 No Content). A body that is not JSON,
        or not labelled as JSON, raises `MalformedResponse` (never a bare decoding error)."""
        return decode_json(self.status, self.headers, self.content, self.label)

    def json_object(self, *required: str) -> dict[str, Any]:
        """The body as a JSON object whose `required` fields are non-empty strings; anything
        else raises `MalformedResponse` naming the request."""
        return expect_object(self.json(), status=self.status, label=self.label,
                             required=required)

    def entries(self) -> list[dict[str, Any]]:
        """The body's `value` list of objects (a collection answer read in one request)."""
        return expect_entries(self.json(), status=self.status, label=self.label)

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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
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
        self.max_response_bytes = max_response_bytes
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

    def relative_url(self, url: str) -> str:
        """`url` relative to the version root, as `$batch` inner requests need it."""
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
                stream=True,  # read by `read_body`, which stops at `max_response_bytes`
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.stats.count(request.method, None, url=request.path)
            raise TransientError(request.method, request.path, type(exc).__name__) from exc
        self.stats.count(request.method, raw.status_code, url=request.path)
        try:
            content = read_body(raw, limit=self.max_response_bytes, method=request.method,
                                path=request.path)
        finally:
            if raw.raw is not None:
                raw.close()
        return GraphResponse(raw.status_code, dict(raw.headers), content, request.label)

    def _error(self, request: GraphRequest, response: GraphResponse) -> GraphApiError:
        text = response.content.decode("utf-8", errors="replace")
        try:
            parsed = jsonlib.loads(text) if text else None
        except (ValueError, RecursionError):
            parsed = None  # the status still says what happened; the text is kept trimmed
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

    def backoff(self, attempt: int) -> float:
        """The wait before `attempt + 1` when Graph names none. Single requests and `$batch`
        rounds draw from one random source, so a seeded client backs off reproducibly."""
        return retry.backoff(attempt, self._rng)

    def _wait_for(self, exc: BaseException | None, attempt: int) -> float:
        if isinstance(exc, GraphApiError) and exc.retry_after is not None:
            return exc.retry_after
        return self.backoff(attempt)

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
                    retry.describe(exc),
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
                retry.describe(exc),
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
        try:
            return retrying(self._attempt, request)
        except TransientError as exc:
            if request.idempotent or isinstance(exc, AnswerLost):
                raise
            raise AnswerLost(exc.method, exc.path, exc.reason) from exc

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
        query, so `params` apply to the first page only) up to `max_pages` pages; a nextLink
        that loops or leaves Graph raises `BrokenPaging` (see `graph.paging`)."""
        return paging.items(self, path, params, headers=headers, mailbox=mailbox,
                            max_pages=max_pages)

    # -- $batch ----------------------------------------------------------------------------

    def batch(self, requests_: Sequence[BatchRequest]) -> list[BatchResult]:
        """Run requests through `$batch`, in chunks of at most 20, results in input order.

        Requests linked by `depends_on` stay in one chunk. Inner 429/5xx answers (and the 424s
        of requests that depended on them) are retried on their own, honouring each inner
        `Retry-After`, within the client's attempt and wait limits; other inner errors come
        back as `BatchResult.error` so one failure does not hide the others.
        """
        return run_batch(self, requests_)


def _snapshot(mapping: Mapping[str, T] | None) -> Mapping[str, T] | None:
    return MappingProxyType(dict(mapping)) if mapping else None
