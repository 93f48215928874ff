"""`mentoring sandbox serve`: the sandbox tenant over HTTP on 127.0.0.1, ready for the worker.

Starts from a saved state file when there is one (for example the one `mentoring demo` leaves
behind), else from the demo organisation. It registers an app for the worker with a fresh
random secret and writes the `MENTORING_*` settings that point the worker at this server into
an env file readable only by its owner, so the secret is never printed.
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path
from typing import TextIO

from graph.clock import SystemClock
from graph.sandbox.fixtures import demo_tenant, program_mailboxes
from graph.sandbox.server import serve
from graph.sandbox.tenant_app import Sandbox

# The application permissions the sandbox grants the worker's app: the ones the README asks
# an admin to grant in a real tenant, nothing more.
WORKER_APP_ROLES = (
    "Calendars.ReadWrite",
    "User.Read.All",
    "Sites.Selected",
    "TeamsActivity.Send",
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "AppCatalog.Read.All",
)
# And those the optional features ask for (README, "Optional program features"), so that the
# example program, which turns them all on, can be tried against the served tenant:
# `mentoring suggest` reads two groups' members; the weekly digest's Mail.Send is scoped like
# the calendars, to the program mailboxes, never tenant-wide.
FEATURE_ROLES = ("GroupMember.Read.All",)
SCOPED_ROLES = ("Calendars.ReadWrite", "Mail.Send")


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write KEY=value lines with mode 600 (created that way, not chmod-ed afterwards)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for key, value in values.items():
            handle.write(f"{key}={value}\n")


def serve_command(*, port: int, state: Path | None, record: Path | None, env_file: Path,
                  out: TextIO) -> int:
    clock = SystemClock()
    if state is not None and state.exists():
        sandbox = Sandbox.from_state_file(state, clock)
    else:
        sandbox = Sandbox.create(clock=clock, fixture=demo_tenant)
    client_id = str(uuid.uuid4())
    secret = secrets.token_urlsafe(32)
    # Sites.Selected allows nothing until a site is granted: grant the tenant's sites but its
    # root, as an admin grants the program's site with POST /sites/{site-id}/permissions.
    # `fullcontrol`, as the admin raises it for the one-off `mentoring sharepoint init` (which
    # creates the list); a real deployment lowers it to `write` afterwards (README). The
    # calendar permission, and the digest's Mail.Send, are scoped to the program mailboxes
    # with Exchange RBAC for Applications, as the README asks.
    sites = getattr(sandbox.state.sharepoint, "sites", {})
    granted = {site_id: "fullcontrol" for site_id, site in sites.items()
               if getattr(site, "path", "") != "/"}
    sandbox.register_app(client_id, secret=secret, roles=(*WORKER_APP_ROLES, *FEATURE_ROLES),
                         display_name="Reverse mentoring worker", site_roles=granted)
    sandbox.scope_mailboxes(client_id, program_mailboxes(sandbox.state), roles=SCOPED_ROLES)

    def ready(base_url: str) -> None:
        write_env_file(env_file, {
            "MENTORING_TENANT_ID": sandbox.state.tenant_id,
            "MENTORING_CLIENT_ID": client_id,
            "MENTORING_CLIENT_SECRET": secret,
            "MENTORING_GRAPH_URL": base_url,
            "MENTORING_AUTHORITY_HOST": base_url,
        })
        out.write(
            f"Sandbox tenant {sandbox.state.tenant_id} on {base_url} "
            f"({len(sandbox.state.directory.users)} people).\n"
            f"Worker settings written to {env_file} (mode 600). In another shell:\n"
            f"  set -a; . {env_file}; set +a; mentoring plan\n"
            "Stop with Ctrl-C"
            + (f"; the tenant is saved to {state}" if state else "") + ".\n"
        )
        out.flush()

    serve(sandbox, port, state, record, on_ready=ready)
    return 0
