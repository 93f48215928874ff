"""The sandbox tenant: one object that answers every request as Microsoft Graph would.

`Sandbox.handle` is the pipeline both front ends (the in-process `requests` adapter and the
HTTP server) call: record -> injected faults -> route match -> bearer token (401) ->
permissions (403) -> throttling (429) -> request-body schema check (400) -> handler under the
state lock -> a `lost` fault (the answer of a request carried out never arrives) ->
`request-id` / `client-request-id` / `Date` headers. Any `GraphError` becomes Graph's error
body; a handler crash becomes 500 `generalException`, logged, never a traceback. Every Graph
request is first checked against the `Retry-After`s given earlier (`early_requests`), and every
429 or 503 with `Retry-After` it ends with is remembered for that check.

Permission errors follow what each workload answers: directory calls
`Authorization_RequestDenied` ("Insufficient privileges to complete the operation."),
Outlook calls `ErrorAccessDenied` ("Access is denied. Check credentials and try again.").
https://learn.microsoft.com/graph/errors , https://learn.microsoft.com/graph/resolve-auth-errors
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import format_datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from graph.clock import Clock, SystemClock
from graph.sandbox.core import GraphError, Route, Router, SandboxRequest, SandboxResponse
from graph.sandbox.directory import AppRegistration
from graph.sandbox.faults import AnswerLost, FaultAbort, Faults, raise_terminal
from graph.sandbox.recorder import Recorder
from graph.sandbox.state import TenantState
from graph.sandbox.throttle import RetryAfterWatch, Throttle, ThrottleConfig, resource_of

log = logging.getLogger(__name__)

# Modules whose `register(router)` adds routes; a module that does not exist yet is skipped.
RESOURCE_MODULES = (
    "graph.sandbox.auth",
    "graph.sandbox.users",
    "graph.sandbox.groups",
    "graph.sandbox.calendar",
    "graph.sandbox.people",
    "graph.sandbox.sharepoint",
    "graph.sandbox.teams",
    "graph.sandbox.batch",
    "graph.sandbox.control",
)
DEFAULT_TOKEN_LIFETIME = 3599
# Services whose routes are not Graph: no bearer token, no version prefix.
_NON_GRAPH = ("auth", "sandbox")
# Graph's answer when an app has none of a route's permissions, by workload.
_DENIED: dict[str, tuple[str, str]] = {
    "directory": (
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    ),
    "outlook": ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    "sharepoint": ("accessDenied", "Access denied"),
}
_SITE_WIDE_ROLES = frozenset(
    {"Sites.Read.All", "Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All"}
)
# Sites.Selected roles, each allowing what the ones before it allow.
_SITE_ROLE_RANK = {"read": 0, "write": 1, "fullcontrol": 2}

Fixture = TenantState | Mapping[str, Any] | str | os.PathLike[str] | Callable[[Clock], Any]


def _optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def build_router(modules: Iterable[str] = RESOURCE_MODULES) -> Router:
    router = Router()
    for name in modules:
        module = _optional_module(name)
        if module is not None:
            module.register(router)
    return router


def _denied(route: Route, req: SandboxRequest) -> GraphError:
    if route.service == "teams":
        return GraphError(
            403,
            "Forbidden",
            f"Missing role permissions on the request. API requires one of "
            f"'{', '.join(route.permissions)}'. Roles on the request "
            f"'{', '.join(sorted(req.roles))}'.",
        )
    code, message = _DENIED.get(route.service, _DENIED["directory"])
    return GraphError(403, code, message)


def _caller(req: SandboxRequest) -> str:
    """The app a request comes from, read from its token's claims without checking them.

    Bookkeeping only (whose `Retry-After` a request falls under): injected faults answer before
    the token is checked, and an unreadable token simply counts as no app.
    """
    if req.app_id:
        return req.app_id
    _, _, token = (req.headers.get("Authorization", "") or "").partition(" ")
    parts = token.strip().split(".")
    if len(parts) != 3:
        return ""
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return ""
    return str(claims.get("appid", "")) if isinstance(claims, dict) else ""


def _request_key(req: SandboxRequest) -> str:
    """The same request sent again: a client keeps its `client-request-id` across attempts;
    without one (a `$batch` inner request), the same method, path and query."""
    client_id = req.headers.get("client-request-id")
    if client_id:
        return f"id:{client_id}"
    query = "&".join(f"{k}={v}" for k, v in sorted(req.query.items()))
    return f"{req.method} {req.path.lower()}?{query}"


def _retry_after(err: GraphError) -> float | None:
    if err.status not in (429, 503):
        return None
    for name, value in (err.headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return float(value)
            except ValueError:
                return None
    return None


class Sandbox:
    """A local Microsoft 365 tenant: directory, mailboxes, SharePoint, Teams, behind Graph."""

    def __init__(
        self,
        state: TenantState | None = None,
        clock: Clock | None = None,
        *,
        token_lifetime: int = DEFAULT_TOKEN_LIFETIME,
        throttle: ThrottleConfig | None = None,
        seed: int = 0,
        record_file: str | os.PathLike[str] | None = None,
        router: Router | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.state = state or TenantState()
        self.router = router or build_router()
        self.throttle = Throttle(throttle or ThrottleConfig(), self.clock)
        self.faults = Faults(seed)
        self.retry_after = RetryAfterWatch(self.clock)
        # The top-level HTTP request this thread is answering (a `$batch` runs its inner
        # requests in the same thread): whose answers a `Retry-After` arrived in.
        self._envelope = threading.local()
        self.recorder = Recorder(record_file)
        self.lock = threading.RLock()
        self.token_lifetime = token_lifetime
        self.signing_key = secrets.token_bytes(32)

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def create(
        cls, clock: Clock | None = None, fixture: Fixture | None = None, **kwargs: Any
    ) -> Sandbox:
        """A sandbox from a fixture: a TenantState, its JSON (dict or file path), or a callable
        taking the clock and returning either."""
        clock = clock or SystemClock()
        source: Any = fixture(clock) if callable(fixture) else fixture
        if source is None:
            state = TenantState()
        elif isinstance(source, TenantState):
            state = source
        elif isinstance(source, Mapping):
            state = TenantState.from_json(dict(source))
        else:
            state = TenantState.load(source)
        return cls(state, clock, **kwargs)

    @classmethod
    def from_state_file(
        cls, path: str | os.PathLike[str], clock: Clock | None = None, **kwargs: Any
    ) -> Sandbox:
        return cls(TenantState.load(path), clock or SystemClock(), **kwargs)

    def save(self, path: str | os.PathLike[str]) -> None:
        with self.lock:
            self.state.save(path)

    def register_app(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        roles: Iterable[str] = (),
        certificate_pem: str | bytes | None = None,
        federated_assertion: str | None = None,
        managed_identity: bool = False,
        selected_sites: Iterable[str] = (),
        display_name: str | None = None,
        site_roles: Mapping[str, str] | None = None,
        exchange_roles: Iterable[str] = (),
        mailbox_scope: Iterable[str] | None = None,
    ) -> AppRegistration:
        """Add (or replace) an app registration; a convenience for tests and the demo.

        `roles` are Entra application permissions (in the token's roles claim); `site_roles`
        the Sites.Selected grants by site id (`selected_sites`: a `write` grant each);
        `exchange_roles` with `mailbox_scope` an Exchange RBAC for Applications assignment."""
        app = AppRegistration(
            client_id=client_id,
            display_name=display_name or f"app {client_id}",
            client_secrets=[secret] if secret else [],
            federated_assertions=[federated_assertion] if federated_assertion else [],
            roles=list(roles),
            selected_sites=list(selected_sites),
            site_roles=dict(site_roles or {}),
            managed_identity=managed_identity,
            exchange_roles=list(exchange_roles),
            mailbox_scope=list(mailbox_scope) if mailbox_scope is not None else None,
        )
        if certificate_pem is not None:
            pem = (
                certificate_pem.decode() if isinstance(certificate_pem, bytes) else certificate_pem
            )
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes

            cert = x509.load_pem_x509_certificate(pem.encode())
            app.certificates.append(pem)
            app.certificate_thumbprints.append(cert.fingerprint(hashes.SHA1()).hex().upper())  # noqa: S303 - Entra shows SHA-1 thumbprints
        with self.lock:
            self.state.directory.apps[client_id] = app
        return app

    def token_for(self, client_id: str) -> str:
        """A valid access token for a registered app, without going through msal."""
        from graph.sandbox.auth import issue_token

        return issue_token(self, self.state.directory.apps[client_id])[0]

    # --- helpers for handlers --------------------------------------------------------------

    def require_site_access(self, req: SandboxRequest, site_id: str, need: str = "read") -> None:
        """SharePoint `Sites.Selected`: the app needs a grant on this very site, of a role
        that allows what the request does (`read` < `write` < `fullcontrol`): a read grant
        refuses writes with the same 403 as no grant at all.

        https://learn.microsoft.com/graph/permissions-selected-overview
        """
        if req.roles & _SITE_WIDE_ROLES:
            return
        app = self.state.directory.apps.get(req.app_id or "")
        role = app.site_role(site_id) if app is not None else None
        if ("Sites.Selected" in req.roles and role is not None
                and _SITE_ROLE_RANK.get(role, -1) >= _SITE_ROLE_RANK.get(need, 0)):
            return
        raise GraphError(403, "accessDenied", "Access denied")

    def exchange_grant(self, req: SandboxRequest, route: Route,
                       params: Mapping[str, str]) -> frozenset[str]:
        """The route's permissions an Exchange RBAC for Applications assignment gives this
        request: the app's Exchange roles when the mailbox is in its management scope, else
        none (Graph then answers 403 `ErrorAccessDenied`, as for no permission at all)."""
        if route.service != "outlook" or route.mailbox_param is None:
            return frozenset()
        app = self.state.directory.apps.get(req.app_id or "")
        if app is None or app.mailbox_scope is None:
            return frozenset()
        granted = frozenset(app.exchange_roles) & set(route.permissions)
        if not granted:
            return frozenset()
        mailbox = self.state.directory.find(params.get(route.mailbox_param, ""))
        if mailbox is None:
            return granted  # nobody's mailbox: the handler's own 404
        members = {found.id for found in map(self.state.directory.find, app.mailbox_scope)
                   if found is not None}
        return granted if mailbox.id in members else frozenset()

    # --- set-up changes (what an admin changes in the tenant; tests break preconditions) ----

    def app(self, client_id: str) -> AppRegistration:
        return self.state.directory.apps[client_id]

    def grant_site(self, client_id: str, site: str, role: str | None) -> None:
        """Sites.Selected: give the app `role` on the site (id or `host:/path`); None revokes
        (POST / PATCH / DELETE /sites/{site-id}/permissions)."""
        if role is not None and role not in _SITE_ROLE_RANK:
            raise ValueError(f"unknown site role {role!r}: one of {sorted(_SITE_ROLE_RANK)}")
        from graph.sandbox.sharepoint import SharePointStore

        store = self.state.sharepoint
        site_id = store.site(site).id if isinstance(store, SharePointStore) else site
        with self.lock:
            app = self.app(client_id)
            app.selected_sites = [s for s in app.selected_sites if s.lower() != site_id.lower()]
            app.site_roles = {k: v for k, v in app.site_roles.items()
                              if k.lower() != site_id.lower()}
            if role is not None:
                app.site_roles[site_id] = role

    def scope_mailboxes(self, client_id: str, mailboxes: Iterable[str] | None, *,
                        roles: Iterable[str] = ("Calendars.ReadWrite",)) -> None:
        """Exchange RBAC for Applications: assign `roles` to the app for these mailboxes only,
        and take the same permissions out of its Entra grants (which would open every mailbox:
        the two add up). `None` removes the assignment and leaves the Entra grants as they are."""
        with self.lock:
            app = self.app(client_id)
            if mailboxes is None:
                app.mailbox_scope = None
                app.exchange_roles = []
                return
            app.exchange_roles = list(roles)
            app.mailbox_scope = list(mailboxes)
            app.roles = [r for r in app.roles if r not in app.exchange_roles]

    def set_person(self, user: str, *, teams_license: bool | None = None,
                   mailbox: bool | None = None, present: bool = True) -> None:
        """Change a person as an admin would: assign or remove the Teams licence, the
        mailbox, or delete the account (`present=False`)."""
        with self.lock:
            person = self.state.directory.get(user)
            if not present:
                del self.state.directory.users[person.id]
                return
            if teams_license is not None:
                person.has_teams_license = teams_license
            if mailbox is not None:
                person.has_mailbox = mailbox

    def set_roles(self, client_id: str, *, add: Iterable[str] = (),
                  remove: Iterable[str] = ()) -> None:
        """Change the app's Entra application permissions (admin consent given or taken)."""
        with self.lock:
            app = self.app(client_id)
            taken = set(remove)
            app.roles = [r for r in app.roles if r not in taken]
            app.roles.extend(r for r in add if r not in app.roles)

    def mailbox_key(self, route: Route, params: Mapping[str, str]) -> str | None:
        if route.mailbox_param is None or route.mailbox_param not in params:
            return None
        value = params[route.mailbox_param]
        user = self.state.directory.find(value)
        return user.id.lower() if user is not None else value.lower()

    # --- the pipeline ----------------------------------------------------------------------

    def handle(self, req: SandboxRequest) -> SandboxResponse:
        """Answer one request; raises `FaultAbort` only for a simulated dropped connection."""
        service: str | None = None
        self._envelope.id = req.request_id
        try:
            response, service = self.dispatch(req)
        except GraphError as err:
            response = self.error_response(req, err)
        except FaultAbort as abort:
            status = "lost" if isinstance(abort, AnswerLost) else "dropped"
            self.recorder.record(req, status, service, self.clock.now().isoformat())
            raise
        except Exception:  # a sandbox bug must still look like Graph, never a traceback
            log.exception("sandbox pipeline failed for %s %s", req.method, req.path)
            response = self.error_response(
                req, GraphError(500, "generalException", "General exception while processing.")
            )
        self.recorder.record(req, response.status, service, self.clock.now().isoformat())
        self._finish_headers(req, response)
        return response

    def dispatch(self, req: SandboxRequest) -> tuple[SandboxResponse, str | None]:
        """Run the pipeline; `GraphError` escapes for the caller to render. Used by $batch too."""
        route: Route | None = None
        params: dict[str, str] = {}
        route_error: GraphError | None = None
        try:
            route, params = self.router.match(req.method, req.path)
            if (route.service in _NON_GRAPH) != (req.version == ""):
                raise GraphError(
                    400,
                    "BadRequest",
                    f"Resource not found for the segment '{req.path.strip('/').split('/')[0]}'.",
                )
        except GraphError as err:
            route_error = err
            route = None
        service = route.service if route else None
        if route is None or route.service in _NON_GRAPH:
            return self._pipeline(req, route, params, route_error), service
        caller = _caller(req)
        resource = resource_of(route, self.mailbox_key(route, params))
        request_key = _request_key(req)
        envelope = str(getattr(self._envelope, "id", ""))
        self.retry_after.check(caller, resource, request_key, f"{req.method} {route.template}",
                               envelope)
        try:
            return self._pipeline(req, route, params, route_error), service
        except GraphError as err:
            wait = _retry_after(err)
            if wait is not None:
                self.retry_after.given(caller, resource, request_key, wait, envelope)
            raise

    def _pipeline(self, req: SandboxRequest, route: Route | None, params: dict[str, str],
                  route_error: GraphError | None) -> SandboxResponse:
        service = route.service if route else None
        faults = self.faults.pick(req.method, req.path, service, req.body)
        if faults.terminal is not None:
            raise_terminal(faults.terminal)
        if route_error is not None or route is None:
            raise route_error or GraphError(400, "BadRequest", "Unknown route.")
        if route.service not in _NON_GRAPH:
            from graph.sandbox.auth import authenticate

            authenticate(self, req)
            if route.permissions and not (req.roles & set(route.permissions)):
                granted = self.exchange_grant(req, route, params)
                if not granted:
                    raise _denied(route, req)
                # What Exchange adds for this mailbox counts as the app's for this request.
                req.roles = req.roles | granted
        app_id = req.app_id or ""
        mailbox = self.mailbox_key(route, params)
        if route.service not in _NON_GRAPH:
            self.throttle.admit(app_id, route, req.method, req.path, req.query, mailbox)
        if route.body_type is not None:
            self._check_body(route.body_type, req)
        with self.throttle.in_flight(app_id, route, mailbox):
            if faults.latency > 0:
                # Real time on purpose: it makes concurrent requests overlap in flight.
                time.sleep(faults.latency)
            response = self._run_handler(route, req, params)
        if faults.lost is not None and response.status < 400:
            # Carried out; the client never hears so (batch: the inner answer is a 504).
            self.faults.answer_lost(faults.lost, f"{req.method} {route.template}")
            raise AnswerLost("the answer was lost after the request was carried out")
        return response

    def _check_body(self, type_name: str, req: SandboxRequest) -> None:
        schema = _optional_module("graph.sandbox.schema")
        body = req.json()
        if schema is not None:
            schema.check_body(type_name, body)

    def _run_handler(
        self, route: Route, req: SandboxRequest, params: dict[str, str]
    ) -> SandboxResponse:
        try:
            if route.service == "batch":
                # $batch runs each inner request through the pipeline, which takes the lock.
                return route.handler(self, req, **params)
            with self.lock:
                return route.handler(self, req, **params)
        except (GraphError, FaultAbort):
            raise
        except Exception as exc:  # a handler bug becomes Graph's 500, logged, not a traceback
            log.exception("sandbox handler for %s %s failed", req.method, route.template)
            raise GraphError(
                500, "generalException", "General exception while processing."
            ) from exc

    def error_response(self, req: SandboxRequest, err: GraphError) -> SandboxResponse:
        response = err.to_response(req.request_id, self.clock.now())
        client_id = req.headers.get("client-request-id")
        if client_id and isinstance(response.body, dict):
            response.body["error"]["innerError"]["client-request-id"] = client_id
        return response

    def _finish_headers(self, req: SandboxRequest, response: SandboxResponse) -> None:
        response.headers["request-id"] = req.request_id
        response.headers["client-request-id"] = (
            req.headers.get("client-request-id") or req.request_id
        )
        response.headers["Date"] = format_datetime(self.clock.now(), usegmt=True)

    def dump_state(self) -> dict[str, Any]:
        with self.lock:
            data: dict[str, Any] = json.loads(json.dumps(self.state.to_json()))
        return data

    def close(self) -> None:
        self.recorder.close()


def load_or_create(
    state_file: str | os.PathLike[str] | None, clock: Clock, **kwargs: Any
) -> Sandbox:
    """The server's start-up: resume from the state file when it exists."""
    if state_file is not None and Path(state_file).exists():
        return Sandbox.from_state_file(state_file, clock, **kwargs)
    return Sandbox(TenantState(), clock, **kwargs)
