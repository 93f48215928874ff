"""The `mentoring` command: validate, doctor, schema, plan, run, sharepoint init, report,
suggest, teams-app package, demo, sandbox.

Exit codes (what a scheduler alerts on) are `worker.core.exit_codes.ExitCode`: 0 all done; 1 some
actions failed or were deferred, each named; 2 config, settings, authentication, a missing
permission or a plan refused as unsafe; 3 Graph or the identity platform unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TextIO

import requests
from pydantic import ValidationError

from graph.auth import (
    Certificate,
    ClientSecret,
    CredentialSpec,
    FederatedToken,
    GraphCredential,
    ManagedIdentity,
)
from graph.client import GraphClient
from graph.clock import Clock, SystemClock
from graph.errors import AuthenticationError, GraphClientError, IdentityUnavailable
from worker.apply.outcome import RunStopped, stop_for
from worker.cli import logs
from worker.config import Config, ConfigError, ConfigProblem, load_config
from worker.config.settings import CLOUD_ENDPOINTS, Settings
from worker.config.templates import Templates
from worker.core.exit_codes import ExitCode
from worker.core.paths import default_config_dir, default_templates_dir
from worker.core.progress import NO_PROGRESS
from worker.plan.plan import TooMuchChange
from worker.run.job import execute

log = logging.getLogger("worker")

DISTRIBUTION = "reverse-mentoring-worker"


def _version() -> str:
    """The installed package's version (what the image was built from)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mentoring",
        description="Books, tracks and nudges reverse mentoring sessions in Microsoft 365.",
    )
    parser.add_argument(
        "--config", type=Path, help="config directory (default: MENTORING_CONFIG_DIR or ./config)"
    )
    parser.add_argument(
        "--log-format", choices=["auto", "json", "text"], help="default: JSON off a terminal"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("validate", help="check the config files and templates; no Graph call")
    commands.add_parser("doctor", help="check every precondition of a run against the tenant "
                        "(permissions, least privilege, notes list, Teams app, participants); "
                        "writes nothing")
    schema = commands.add_parser("schema", help="write the JSON Schemas for the config files")
    schema.add_argument("--out", type=Path, help="directory to write into (default: print)")

    plan = commands.add_parser("plan", help="show what a run would do (reads only)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")

    run = commands.add_parser("run", help="make Microsoft 365 match the config")
    run.add_argument("--dry-run", action="store_true", help="the same as `plan`")
    run.add_argument("--force", action="store_true",
                     help="apply even when the plan cancels or moves many sessions")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")

    demo = commands.add_parser(
        "demo", help="run a whole program against the built-in sandbox tenant, offline"
    )
    demo.add_argument("--state-file", type=Path, default=Path("demo-sandbox-state.json"),
                      help="where the sandbox tenant is saved afterwards")
    demo.add_argument("--record", type=Path, help="write every Graph request to this file")
    demo.add_argument("--report-file", type=Path, default=Path("demo-report.html"),
                      help="where the sponsor's report of the simulated program is written")
    demo.add_argument("--quiet", action="store_true", help="only the final tables")

    teams_app = commands.add_parser("teams-app", help="the Teams app that carries the nudges")
    teams_app_commands = teams_app.add_subparsers(dest="teams_app_command", required=True)
    package = teams_app_commands.add_parser(
        "package", help="write the app package (zip) an admin uploads to the org catalog"
    )
    package.add_argument("--out", type=Path, required=True, help="the zip file to write")
    package.add_argument("--client-id", help="the worker's Entra app id "
                         "(default: MENTORING_CLIENT_ID)")
    package.add_argument("--notes-url", help="the notes list's address, as `sharepoint init` "
                         "prints it (default: derived from program.yaml)")

    sharepoint = commands.add_parser("sharepoint", help="the program's SharePoint list")
    sharepoint_commands = sharepoint.add_subparsers(dest="sharepoint_command", required=True)
    sharepoint_commands.add_parser(
        "init", help="create the list, or check and complete it (a second run writes nothing)"
    )
    dedupe = sharepoint_commands.add_parser(
        "dedupe", help="find sessions with more than one item; --apply removes the copies "
        "nobody edited")
    dedupe.add_argument("--apply", action="store_true", help="remove them (default: show)")
    pairings = commands.add_parser("pairings", help="the pairings, for a spreadsheet")
    pairings_commands = pairings.add_subparsers(dest="pairings_command", required=True)
    export = pairings_commands.add_parser(
        "export", help="write the pairings as CSV with each pair's progress (from the notes "
        "list); edited, it loads back as config/pairings.csv")
    export.add_argument("--csv", action="store_true", help="CSV (the one format, the default)")
    export.add_argument("--out", type=Path, help="write to this file (default: print)")
    export.add_argument("--no-progress", action="store_true",
                        help="the config columns only, without reading the notes list "
                        "(no credentials needed)")
    report = commands.add_parser("report", help="sessions and notes per pair, from the list")
    report.add_argument("--format", choices=["text", "csv", "html"], default="text")
    report.add_argument("--out", type=Path, help="write to this file (default: print)")
    report.add_argument("--sessions-csv", type=Path, metavar="FILE",
                        help="also write one row per session (names, phase, times in UTC and "
                        "each person's zone, status, notes, link) to this CSV file")

    suggest = commands.add_parser(
        "suggest", help="suggest a mentor for each executive without one (program.yaml "
        "`matching:`), written to a file for review; reads only, applies nothing")
    suggest.add_argument("--format", choices=["yaml", "csv"], default="yaml",
                         help="a pairings.yaml file (reasons as comments) or CSV with a "
                         "reasons column")
    suggest.add_argument("--out", type=Path, help="write to this file (default: print)")
    suggest.add_argument("--start", type=date.fromisoformat, metavar="YYYY-MM-DD",
                         help="the suggested pairs' start (default: the first Monday at "
                         "least two weeks ahead)")

    sandbox = commands.add_parser("sandbox", help="the local Microsoft Graph sandbox tenant")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = sandbox_commands.add_parser("serve", help="serve the sandbox on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--state", type=Path, help="load/save the tenant state in this file")
    serve.add_argument("--record", type=Path, help="write every request received to this file")
    serve.add_argument("--env-file", type=Path, default=Path("sandbox.env"),
                       help="write MENTORING_* settings for the worker here (mode 600)")
    return parser


def main(argv: list[str] | None = None, *, clock: Clock | None = None,
         session: requests.Session | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    stdout = out or sys.stdout
    clock = clock or SystemClock()

    if args.command == "demo":
        from worker.cli.demo import run_demo

        logs.configure(args.log_format or "text", level=logging.WARNING)
        return run_demo(state_file=args.state_file, record=args.record, quiet=args.quiet,
                        out=stdout, config_dir=args.config, report_file=args.report_file)
    if args.command == "sandbox":
        from graph.sandbox.cli import serve_command

        logs.configure(args.log_format or "auto")
        code: int = serve_command(port=args.port, state=args.state, record=args.record,
                                  env_file=args.env_file, out=stdout)
        return code

    if args.command == "teams-app":
        from worker.cli.teams_app import cmd_package

        logs.configure(args.log_format or "auto")
        return cmd_package(args.config or default_config_dir(), default_templates_dir(),
                           args.out, args.client_id, clock.now().date(),
                           notes_url=args.notes_url, stream=stdout)

    if args.command == "doctor":
        from worker.cli.doctor import cmd_doctor

        return cmd_doctor(args, clock=clock, session=session, out=stdout)

    if args.command in ("schema", "validate"):
        # Neither needs credentials: an admin can check the config on a laptop.
        logs.configure(args.log_format or "auto")
        if args.command == "schema":
            from worker.cli.config_cmds import cmd_schema

            return cmd_schema(args.out)
        from worker.cli.config_cmds import cmd_validate

        return cmd_validate(args.config or default_config_dir(), clock.now().date())

    if args.command == "pairings" and (args.no_progress or not _has_notes_list(args)):
        # Nothing to read from Graph: no credentials needed, as for validate.
        logs.configure(args.log_format or "auto")
        from worker.cli.notes_list_cmds import cmd_pairings_export

        return cmd_pairings_export(args.config or default_config_dir(), clock, None,
                                   out_file=args.out, out=stdout)

    try:
        settings = Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        # The settings did not load, so their log format neither: read from the environment.
        json_logs = logs.configure(args.log_format or _env_log_format())
        _fail(json_logs, f"settings error: {_settings_message(exc)}",
              exit_code=int(ExitCode.CONFIG))
        return ExitCode.CONFIG
    if args.config is not None:
        settings = settings.model_copy(update={"config_dir": args.config})
    json_logs = logs.configure(args.log_format or settings.log_format,
                               secrets=_secret_values(settings))

    try:
        config = load_config(settings.config_dir, today=clock.now().date(),
                             templates_dir=settings.templates_dir)
    except ConfigError as exc:
        if not json_logs:
            print(str(exc), file=sys.stderr)
            return ExitCode.CONFIG
        for problem in exc.problems:
            log.error("%s", problem, extra=_problem_fields(problem))
        count = len(exc.problems)
        log.error("%d configuration problem%s: nothing is booked until %s fixed", count,
                  "" if count == 1 else "s", "it is" if count == 1 else "they are",
                  extra={"exit_code": int(ExitCode.CONFIG)})
        return ExitCode.CONFIG
    if args.command == "pairings":
        from worker.cli.notes_list_cmds import cmd_pairings_export

        try:
            return cmd_pairings_export(config, clock, build_client(settings, clock, session),
                                       out_file=args.out, out=stdout)
        except AuthenticationError as exc:
            _fail(json_logs, f"authentication error: {exc}", exit_code=int(_auth_exit(exc)))
            return _auth_exit(exc)
    if args.command == "suggest":
        from worker.cli.suggest import NOT_CONFIGURED, cmd_suggest

        if config.program.matching is None:
            _fail(json_logs, NOT_CONFIGURED, exit_code=int(ExitCode.CONFIG))
            return ExitCode.CONFIG
        try:
            return cmd_suggest(build_client(settings, clock, session), config, clock,
                               fmt=args.format, out_file=args.out, start=args.start,
                               out=stdout)
        except AuthenticationError as exc:
            _fail(json_logs, f"authentication error: {exc}", exit_code=int(_auth_exit(exc)))
            return _auth_exit(exc)
    if args.command in ("sharepoint", "report"):
        from worker.cli.notes_list_cmds import cmd_report, cmd_sharepoint_init

        try:
            client = build_client(settings, clock, session)
            if args.command == "sharepoint" and args.sharepoint_command == "dedupe":
                from worker.cli.dedupe import cmd_sharepoint_dedupe

                return cmd_sharepoint_dedupe(client, config, apply=bool(args.apply),
                                             out=stdout)
            if args.command == "sharepoint":
                return cmd_sharepoint_init(client, config, client_id=settings.client_id,
                                           out=stdout)
            return cmd_report(client, config, clock, fmt=args.format, out_file=args.out,
                              out=stdout, sessions_csv=args.sessions_csv,
                              templates_dir=settings.templates_dir)
        except AuthenticationError as exc:
            _fail(json_logs, f"authentication error: {exc}", exit_code=int(_auth_exit(exc)))
            return _auth_exit(exc)
    dry_run = args.command == "plan" or bool(getattr(args, "dry_run", False))
    try:
        client = build_client(settings, clock, session)
        templates = Templates(settings.templates_dir or default_templates_dir())
        return run_command(client, config, clock, templates,
                           dry_run=dry_run, force=bool(getattr(args, "force", False)),
                           as_json=bool(args.json), out=stdout,
                           max_change_share=settings.max_change_share,
                           webhook_url=(settings.teams_webhook_url.get_secret_value()
                                        if settings.teams_webhook_url else None),
                           json_logs=json_logs)
    except AuthenticationError as exc:
        _fail(json_logs, f"authentication error: {exc}", exit_code=int(_auth_exit(exc)))
        return _auth_exit(exc)


def _has_notes_list(args: argparse.Namespace) -> bool:
    """Whether the config names a notes list to read progress from (a config that does not
    load says so when the export loads it)."""
    try:
        config = load_config(args.config or default_config_dir(),
                             today=datetime.now(UTC).date())
    except ConfigError:
        return False
    return config.program.sharepoint is not None


def _env_log_format() -> str:
    value = os.environ.get("MENTORING_LOG_FORMAT", "auto").strip().lower()
    return value if value in ("auto", "json", "text") else "auto"


def _fail(json_logs: bool, text: str, **fields: object) -> None:
    """A reason the command stops: a JSON log record in JSON mode (every line a JSON object),
    else one plain line on stderr."""
    if json_logs:
        log.error("%s", text, extra=fields)
    else:
        print(text, file=sys.stderr)


def _problem_fields(problem: ConfigProblem) -> dict[str, object]:
    return {"file": problem.file, "line": problem.line, "column": problem.column,
            "problem": problem.message, "hint": problem.hint,
            "exit_code": int(ExitCode.CONFIG)}


def _auth_exit(exc: AuthenticationError) -> int:
    """An identity platform that does not answer is an outage (3), a refused credential a
    deployment error (2)."""
    return ExitCode.OUTAGE if isinstance(exc, IdentityUnavailable) else ExitCode.CONFIG


def build_client(settings: Settings, clock: Clock,
                 session: requests.Session | None = None) -> GraphClient:
    http = session or requests.Session()
    graph_root = settings.effective_graph_url
    if graph_root.endswith(("/v1.0", "/beta")):
        graph_root = graph_root.rsplit("/", 1)[0]
    credential = GraphCredential(
        tenant_id=settings.tenant_id,
        client_id=settings.client_id,
        credential=credential_spec(settings),
        authority_host=settings.effective_authority_host,
        # The token is for the cloud's Graph resource, whatever address serves it (a sandbox
        # on 127.0.0.1 stands in for https://graph.microsoft.com).
        graph_scope_root=CLOUD_ENDPOINTS[settings.cloud][0],
        http_client=http,
    )
    return GraphClient(f"{graph_root}/v1.0", credential, http, clock)


def credential_spec(settings: Settings) -> CredentialSpec:
    """The one credential the settings name, as the Graph client understands it."""
    kind = settings.credential_kind
    if kind == "client_secret" and settings.client_secret is not None:
        return ClientSecret(settings.client_secret.get_secret_value())
    if kind == "certificate" and settings.certificate_path is not None:
        password = settings.certificate_password
        return Certificate(settings.certificate_path,
                           password.get_secret_value() if password else None)
    if kind == "federated_token" and settings.federated_token_file is not None:
        return FederatedToken(settings.federated_token_file)
    return ManagedIdentity(settings.managed_identity_client_id)


def _secret_values(settings: Settings) -> list[str]:
    values = []
    for secret in (settings.client_secret, settings.certificate_password,
                   settings.teams_webhook_url):
        if secret is not None:
            values.append(secret.get_secret_value())
    return values


def _settings_message(exc: ValidationError) -> str:
    """pydantic's errors as one line each, naming the environment variable, no input values."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        where = f"MENTORING_{field.upper()}: " if field else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}{message}")
    return "; ".join(lines)


def run_command(client: GraphClient, config: Config, clock: Clock, templates: Templates, *,
                dry_run: bool, force: bool, as_json: bool, out: TextIO,
                max_change_share: float | None = None, webhook_url: str | None = None,
                json_logs: bool = False) -> int:
    """`plan` and `run`: print the plan (and the run's summary); exit with the code `run`
    ends with (`plan` exits with the code `run` would). With JSON logs the output is the
    `--json` document on one line, so every line the job writes is one JSON object."""
    # Steps with their totals on a terminal; nothing extra anywhere else (a container's log,
    # JSON logs, a pipe).
    progress = NO_PROGRESS
    if sys.stderr.isatty() and not (as_json or json_logs):
        from worker.cli.progress import TerminalProgress

        progress = TerminalProgress(sys.stderr)
    try:
        plan, summary = execute(client, config, clock, templates, apply=not dry_run, force=force,
                                max_change_share=max_change_share,
                                progress=progress,
                                webhook_url=webhook_url)
    except TooMuchChange as exc:
        _fail(json_logs, f"plan refused: {exc}", exit_code=int(ExitCode.CONFIG))
        return ExitCode.CONFIG
    except RunStopped as exc:
        _fail(json_logs, f"run stopped: {exc.reason}", exit_code=int(exc.code))
        return int(exc.code)
    except GraphClientError as exc:
        stop = stop_for(exc) or RunStopped(ExitCode.INCOMPLETE, str(exc))
        _fail(json_logs, f"run stopped: {stop.reason}", exit_code=int(stop.code))
        return int(stop.code)
    finally:
        progress.close()
    if as_json or json_logs:
        document = {"plan": plan.to_json(), "summary": summary.to_json()}
        out.write((json.dumps(document, indent=2) if not json_logs
                   else json.dumps(document, separators=(",", ":"))) + "\n")
    else:
        if dry_run or not plan.is_empty():
            out.write(plan.render_text() + "\n")
        out.write(summary.render_text() + "\n")
    log.info("run finished" if not dry_run else "plan made",
             extra={"summary": summary.to_json()})
    return int(summary.exit_code)
