"""The sandbox's own control API under ``/_sandbox/`` (no auth; the server binds 127.0.0.1).

When the sandbox runs as an HTTP server (demo, benchmarks), a test driver in another process
needs to move the simulated clock, inject faults, and look at the state and at what was sent:
* ``GET /_sandbox/clock`` -> ``{"now": ISO}``; ``POST /_sandbox/clock`` with ``{"set": ISO}``
  or ``{"advance": seconds}`` (needs a ManualClock);
* ``GET /_sandbox/faults``: the rules, the answers `lost` faults took per route and the
  requests sent before their `Retry-After` ran out; ``POST /_sandbox/faults`` with one rule,
  ``{"rules": [...]}``, ``{"clear": true}`` or ``{"reset_counts": true}`` (those two counts);
  ``DELETE /_sandbox/faults``;
* ``GET /_sandbox/state``: the tenant state as saved to the state file;
* ``GET /_sandbox/requests?top=N``: the last N recorded requests (secrets removed);
* ``POST /_sandbox/apps/{client-id}``: change an app's grants (Entra roles, its Exchange RBAC
  mailbox scope, its Sites.Selected roles); ``PATCH /_sandbox/users/{user}``: a person's Teams
  licence, mailbox, or account (what `mentoring doctor` checks, broken on purpose).
Per-person simulation endpoints (``/_sandbox/users/{user}/...``) live with the calendar model.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from graph.clock import ManualClock
from graph.sandbox.core import GraphError, Router, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.faults import FaultRule

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def get_clock(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    return json_response(
        {"now": sb.clock.now().isoformat(), "manual": isinstance(sb.clock, ManualClock)}
    )


def post_clock(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    if not isinstance(sb.clock, ManualClock):
        raise GraphError(409, "Conflict", "The sandbox runs on the system clock; it cannot move.")
    body = req.json()
    if not isinstance(body, dict):
        raise _bad("Expected a JSON object with 'set' or 'advance'.")
    try:
        if "set" in body:
            sb.clock.set(datetime.fromisoformat(str(body["set"])))
        elif "advance" in body:
            sb.clock.advance(float(body["advance"]))
        else:
            raise _bad("Expected a JSON object with 'set' or 'advance'.")
    except (TypeError, ValueError) as exc:
        raise _bad(f"Invalid clock change: {exc}") from exc
    return get_clock(sb, req)


def get_faults(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    return json_response({
        "rules": [rule.to_json() for rule in sb.faults.rules()],
        "lost_answers": sb.faults.lost_answers(),
        "early_requests": sb.retry_after.early_requests(),
    })


def post_faults(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    body = req.json()
    if not isinstance(body, dict):
        raise _bad("Expected a JSON object: a rule, {'rules': [...]} or {'clear': true}.")
    if body.get("clear"):
        sb.faults.clear()
    if body.get("reset_counts"):
        sb.faults.reset_counts()
        sb.retry_after.reset()
    listed = "rules" in body or "clear" in body or "reset_counts" in body
    raw_rules: list[Any] = body.get("rules", []) if listed else [body]
    try:
        for raw in raw_rules:
            if not isinstance(raw, dict):
                raise _bad("Each fault rule must be a JSON object.")
            sb.faults.add(FaultRule.from_json(raw))
    except (TypeError, ValueError) as exc:
        raise _bad(f"Invalid fault rule: {exc}") from exc
    return get_faults(sb, req)


def delete_faults(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    sb.faults.clear()
    return SandboxResponse(204)


def get_state(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    return json_response(sb.state.to_json())


def get_requests(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    try:
        top = int(req.query.get("top", "100"))
    except ValueError as exc:
        raise _bad("top must be an integer") from exc
    return json_response({"value": sb.recorder.recent(top)})


def post_app(sb: Sandbox, req: SandboxRequest, client_id: str) -> SandboxResponse:
    """Change an app registration's grants, as an admin would: ``{"add_roles": [...],
    "remove_roles": [...], "mailbox_scope": [...] | null, "sites": {"<site>": "read" |
    "write" | "fullcontrol" | null}}`` (each key optional)."""
    body = req.json()
    if not isinstance(body, dict):
        raise _bad("Expected a JSON object.")
    if client_id not in sb.state.directory.apps:
        raise GraphError(404, "NotFound", f"No app registration '{client_id}'.")
    try:
        sb.set_roles(client_id, add=body.get("add_roles", []),
                     remove=body.get("remove_roles", []))
        if "mailbox_scope" in body:
            sb.scope_mailboxes(client_id, body["mailbox_scope"])
        for site, role in (body.get("sites") or {}).items():
            sb.grant_site(client_id, site, role)
    except (TypeError, ValueError, AttributeError) as exc:
        raise _bad(f"Invalid change: {exc}") from exc
    app = sb.state.directory.apps[client_id]
    return json_response({"roles": app.roles, "exchange_roles": app.exchange_roles,
                          "mailbox_scope": app.mailbox_scope,
                          "site_roles": {**dict.fromkeys(app.selected_sites, "write"),
                                         **app.site_roles}})


def patch_user(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    """Change a person: ``{"teams_license": bool, "mailbox": bool, "present": false}``."""
    body = req.json()
    if not isinstance(body, dict):
        raise _bad("Expected a JSON object.")
    sb.set_person(user, teams_license=body.get("teams_license"), mailbox=body.get("mailbox"),
                  present=bool(body.get("present", True)))
    return SandboxResponse(204)


def register(router: Router) -> None:
    router.add("POST", "/_sandbox/apps/{client_id}", post_app, service="sandbox")
    router.add("PATCH", "/_sandbox/users/{user}", patch_user, service="sandbox")
    router.add("GET", "/_sandbox/clock", get_clock, service="sandbox")
    router.add("POST", "/_sandbox/clock", post_clock, service="sandbox")
    router.add("GET", "/_sandbox/faults", get_faults, service="sandbox")
    router.add("POST", "/_sandbox/faults", post_faults, service="sandbox")
    router.add("DELETE", "/_sandbox/faults", delete_faults, service="sandbox")
    router.add("GET", "/_sandbox/state", get_state, service="sandbox")
    router.add("GET", "/_sandbox/requests", get_requests, service="sandbox")
