"""The Graph client's own exceptions, so callers never catch `requests` or msal types.

Callers decide per failure whether to give up on one pairing (a 404 for an unknown user, a 409)
or on the whole run (authentication), and the retry loop decides what is worth retrying; both
need a small, stable tree keyed by HTTP status rather than raw responses::

    GraphClientError                   anything this client raises
    ├── AuthenticationError            no access token (msal error dict, unreadable credential)
    │   └── IdentityUnavailable        the identity platform did not answer, or said "try later"
    ├── TransientError                 connection error or timeout, still failing after retries
    │   └── AnswerLost                 no answer to a request Graph may have carried out
    └── GraphApiError                  Graph answered with an error status
        ├── BadRequest                 400
        ├── Unauthorized               401 (even after a fresh token)
        ├── Forbidden                  403
        ├── NotFound                   404
        ├── Conflict                   409
        ├── PreconditionFailed         412 (If-Match etag no longer current)
        ├── Throttled                  429
        └── ServerError                5xx
            └── MalformedResponse      an answer that is not the JSON Graph documents
                ├── OversizedResponse  an answer (a page) over the client's size bound
                └── BrokenPaging       a nextLink that loops, leaves Graph, or is no URL
                    └── PagingLimitExceeded   nextLinks kept coming past the page guard

Every error carries the method and the URL path (never the query string, which may carry
filters with personal data, and never the token) plus a trimmed body, and chains the original
exception (`raise ... from e`). Graph's error body shape ``{"error": {"code", "message",
"innerError": {"request-id", ...}}}`` is documented at https://learn.microsoft.com/graph/errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

# Bodies are trimmed before they reach an exception (and so a log line): enough to read the
# Graph error, not enough to carry a whole event or list item with personal data.
BODY_LIMIT = 500
DESCRIPTION_LIMIT = 300

# 501 (Not Implemented) and 505 are answers, not hiccups: retrying them cannot help.
TRANSIENT_SERVER_STATUSES = frozenset({500, 502, 503, 504})


def trim(text: str | None, limit: int = BODY_LIMIT) -> str:
    """`text` cut to `limit` characters, marked when cut."""
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit] + "…"


def safe_path(url: str) -> str:
    """The path of `url` without scheme, host or query: what may appear in errors and logs."""
    return urlsplit(url).path or "/"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110).

    Returns None for a missing or unreadable value, so the caller falls back to backoff.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    return max(0.0, seconds)


class GraphClientError(Exception):
    """Base of everything the Graph client raises."""


class AuthenticationError(GraphClientError):
    """No access token: msal answered with an error, or the credential could not be read.

    `error` and `error_description` come from the token endpoint (OAuth 2.0 error response);
    the description is trimmed to its first line (Entra appends trace and correlation ids)
    and scrubbed of every secret the credential knows, so it is safe to log.
    """

    def __init__(
        self,
        error: str,
        error_description: str = "",
        correlation_id: str | None = None,
    ) -> None:
        self.error = error
        self.error_description = error_description
        self.correlation_id = correlation_id
        text = f"token acquisition failed: {error}"
        if error_description:
            text += f": {error_description}"
        if correlation_id:
            text += f" (correlation id {correlation_id})"
        super().__init__(text)


class IdentityUnavailable(AuthenticationError):
    """The identity platform could not be reached, or answered that it is unavailable
    (`temporarily_unavailable`, `server_error`): an outage, not a wrong credential."""


# OAuth 2.0 error codes that mean "try again later" (RFC 6749 section 5.2 and 4.1.2.1).
UNAVAILABLE_AUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class TransientError(GraphClientError):
    """The request never got an answer (connection refused/reset, timeout)."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{method} {path}: {reason}")


class AnswerLost(TransientError):
    """A request that must not be sent twice blindly (a create with no idempotency key, a Teams
    notification) got no answer: Graph may or may not have carried it out. The caller looks it
    up by its key before any second attempt, or leaves it to the next run. One lost answer says
    nothing about Graph being reachable, so it does not stop the run."""


class GraphApiError(GraphClientError):
    """Graph answered with an error status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        retry_after: float | None = None,
        *,
        method: str = "",
        path: str = "",
        body: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        self.method = method
        self.path = path
        self.body = trim(body)
        where = f" on {method} {path}" if method else ""
        rid = f" (request-id {request_id})" if request_id else ""
        super().__init__(f"{status} {code}: {message}{where}{rid}")

    def short(self) -> str:
        """'429 ApplicationThrottled': what a retry log line shows."""
        return f"{self.status} {self.code}"


class BadRequest(GraphApiError):
    """400: the request is wrong; retrying the same request cannot help."""


class Unauthorized(GraphApiError):
    """401: the token was refused even after acquiring a fresh one."""


class Forbidden(GraphApiError):
    """403: the app lacks the permission (or Exchange RBAC / Sites.Selected scope)."""


class NotFound(GraphApiError):
    """404: no such user, mailbox, event, site, list or item."""


class Conflict(GraphApiError):
    """409: a name collision (a list or column that exists), an app already installed. (A
    transactionId reused with different content is a 400, `ErrorDuplicateTransactionId`.)"""


class PreconditionFailed(GraphApiError):
    """412: the If-Match etag is stale; someone changed the item since it was read."""


class Throttled(GraphApiError):
    """429: throttled; `retry_after` says how long Graph wants the client to wait."""


class ServerError(GraphApiError):
    """5xx: Graph or the service behind it failed."""


class MalformedResponse(ServerError):
    """Graph answered, but not with the JSON it documents (cut off, an HTML page from a proxy,
    `value` that is no list, a `$batch` answer missing an id): treated like a server failure,
    since retrying later may help and nothing in the answer can be trusted.

    `status` is the answer's own status (200 for a broken page), so the client does not retry
    it at once; inside `$batch` a missing or unreadable inner answer is given 502, which the
    batch loop does retry (the other inner requests were answered)."""

    def __init__(self, status: int, reason: str, *, method: str = "", path: str = "",
                 body: str = "", code: str = "MalformedResponse") -> None:
        super().__init__(status, code, reason, method=method, path=path, body=body)


class OversizedResponse(MalformedResponse):
    """An answer larger than the client reads (`GraphClient.max_response_bytes`): stopped
    while reading it, so a hostile or broken answer cannot take the worker's memory."""

    def __init__(self, status: int, limit: int, *, method: str = "", path: str = "") -> None:
        self.limit = limit
        super().__init__(status, f"the answer is over {limit} bytes; not read further",
                         method=method, path=path, code="OversizedResponse")


class BrokenPaging(MalformedResponse):
    """A collection whose `@odata.nextLink` cannot be followed safely: it repeats a page
    already read, leads away from Graph's base URL (the token would go there), or is no URL."""

    def __init__(self, reason: str, *, path: str, status: int = 200) -> None:
        super().__init__(status, reason, method="GET", path=path, code="BrokenPaging")


class PagingLimitExceeded(BrokenPaging):
    """A collection kept returning `@odata.nextLink` past the client's page guard."""

    def __init__(self, path: str, max_pages: int) -> None:
        self.max_pages = max_pages
        super().__init__(f"still more pages after {max_pages}; stopped", path=path)


_BY_STATUS: dict[int, type[GraphApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    429: Throttled,
}


def error_class(status: int) -> type[GraphApiError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, GraphApiError)


def error_from_body(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    now: datetime,
    raw_text: str = "",
) -> GraphApiError:
    """Build the exception for an error answer from its parsed JSON body (or None).

    Used for top-level responses and for `$batch` inner responses alike, so a failed inner
    request is the same exception object a direct call would have raised.
    """
    code = ""
    message = ""
    request_id: str | None = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code") or "")
        message = str(err.get("message") or "")
        inner = err.get("innerError") or err.get("innererror")
        if isinstance(inner, dict) and inner.get("request-id"):
            request_id = str(inner["request-id"])
    lowered = {k.lower(): v for k, v in headers.items()}
    request_id = lowered.get("request-id") or request_id
    retry_after = parse_retry_after(lowered.get("retry-after"), now)
    if not raw_text and body is not None:
        raw_text = json.dumps(body, separators=(",", ":"))
    return error_class(status)(
        status,
        code or f"HTTP{status}",
        message or "(no error message)",
        request_id,
        retry_after,
        method=method,
        path=path,
        body=raw_text,
    )


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same request later may succeed: 429, 500/502/503/504, no answer."""
    if isinstance(exc, TransientError | Throttled):
        return True
    return isinstance(exc, ServerError) and exc.status in TRANSIENT_SERVER_STATUSES
