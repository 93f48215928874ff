"""`mentoring sharepoint init`, `mentoring report` and `mentoring pairings export`: the
commands that read or set up the SharePoint list.

Kept apart from `worker.cli.main` so the command module stays a dispatcher. Exit codes are the
job's (`worker.core.exit_codes`): 0 done, 1 Graph refused something, 2 configuration or
permission problem (nothing written), 3 Graph unreachable.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from graph.client import GraphClient
from graph.clock import Clock
from graph.errors import GraphClientError
from worker.apply.outcome import stop_for
from worker.cli.notes_list_init import init_lists
from worker.cli.report import ReportError, read_report, render, render_sessions_csv
from worker.config import Config, ConfigError, load_config
from worker.core.exit_codes import ExitCode
from worker.observe.notes_list import PermissionMissing


def cmd_sharepoint_init(client: GraphClient, config: Config, *, client_id: str | None,
                        out: TextIO) -> int:
    settings = config.program.sharepoint
    if settings is None:
        print("program.yaml has no sharepoint section (site and list): nothing to set up",
              file=sys.stderr)
        return ExitCode.CONFIG
    try:
        results = init_lists(client, config.program, client_id)
    except PermissionMissing as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG
    except GraphClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _graph_exit(exc)
    for result in results:
        out.write(result.render_text() + "\n")
    return ExitCode.INCOMPLETE if any(r.problems for r in results) else ExitCode.OK


def cmd_report(client: GraphClient, config: Config, clock: Clock, *, fmt: str,
               out_file: Path | None, out: TextIO, sessions_csv: Path | None = None,
               templates_dir: Path | None = None) -> int:
    try:
        report = read_report(client, config, clock.now())
        text = render(report, fmt, templates_dir)
    except ReportError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG
    except GraphClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _graph_exit(exc)
    for gap in report.gaps:
        print(f"not read: {gap}", file=sys.stderr)
    if sessions_csv is not None:
        sessions_csv.write_text(render_sessions_csv(report), encoding="utf-8", newline="")
    if out_file is None:
        out.write(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        out.write(f"Report written to {out_file}\n")
    if sessions_csv is not None:
        out.write(f"{len(report.sessions)} session(s) written to {sessions_csv}\n")
    return ExitCode.OK


def _graph_exit(exc: GraphClientError) -> int:
    stop = stop_for(exc)
    return int(stop.code) if stop is not None else ExitCode.INCOMPLETE


def cmd_pairings_export(config_or_dir: Config | Path, clock: Clock,
                        client: GraphClient | None, *, out_file: Path | None,
                        out: TextIO) -> int:
    """The pairings as CSV; with a client, each pair's progress read from the notes list."""
    from worker.cli.pairings_export import ExportError, export_csv

    if isinstance(config_or_dir, Path):
        try:
            config = load_config(config_or_dir, today=clock.now().date())
        except ConfigError as exc:
            print(str(exc), file=sys.stderr)
            return ExitCode.CONFIG
    else:
        config = config_or_dir
    report = None
    if client is not None:
        try:
            report = read_report(client, config, clock.now(), details=False)
        except ReportError as exc:
            print(f"progress not read: {exc}", file=sys.stderr)
            return ExitCode.CONFIG
        except GraphClientError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return _graph_exit(exc)
    try:
        text = export_csv(config, report)
    except ExportError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG
    if out_file is None:
        out.write(text)
    else:
        out_file.write_text(text, encoding="utf-8", newline="")
        out.write(f"{len(config.pairings)} pairing(s) written to {out_file}\n")
    return ExitCode.OK
