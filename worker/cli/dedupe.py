"""`mentoring sharepoint dedupe`: find sessions with more than one notes list item across the
whole list, and (with `--apply`) remove the copies nobody touched.

The run itself removes such copies whenever it looks an item up by its session key; this
command is for what it never looks at again (copies older versions left behind after a lost
answer, or two runs at the same time). The same rule decides (`worker.plan.duplicates`), the
same executor removes (`worker.apply.notes_list.remove_item`, If-Match), and like `plan` it
writes nothing unless asked. Exit codes: 0 nothing left to do, 1 items kept for a person to
merge or a removal that did not happen, 2 no list or no permission, 3 Graph unreachable.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from graph import sharepoint
from graph.client import GraphClient
from graph.errors import GraphClientError
from worker.apply.context import Context
from worker.apply.notes_list import remove_item
from worker.apply.outcome import Status, outcome_for, stop_for
from worker.config import Config
from worker.core.exit_codes import ExitCode
from worker.core.notes_list import KEY_COLUMN
from worker.observe.events import read_sessions
from worker.observe.notes_list import NotesListUnavailable, require_list
from worker.plan.duplicates import plan_duplicates

# What the rule reads of each item (the fields people write, and the key).
DEDUPE_COLUMNS = (KEY_COLUMN, "ProgramId", "PairingId", "Notes", "SharedWithProgram", "Agenda")


def cmd_sharepoint_dedupe(client: GraphClient, config: Config, *, apply: bool,
                          out: TextIO) -> int:
    settings = config.program.sharepoint
    if settings is None:
        print("program.yaml has no sharepoint section: there is no list to check",
              file=sys.stderr)
        return ExitCode.CONFIG
    try:
        ref = require_list(client, settings)
        items = sharepoint.items_where(
            client, ref.site_id, ref.list_id,
            sharepoint.eq_filter("ProgramId", config.program.id), select=DEDUPE_COLUMNS)
        by_key: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            key = str((item.get("fields") or {}).get(KEY_COLUMN) or "")
            if key:
                by_key.setdefault(key, []).append(item)
        several = {k: v for k, v in by_key.items() if len(v) > 1}
        sessions = read_sessions(client, config) if several else {}
    except NotesListUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG
    except GraphClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        stop = stop_for(exc)
        return int(stop.code) if stop is not None else ExitCode.INCOMPLETE
    removals, notices = plan_duplicates(several, ref, sessions)
    out.write(f"{len(items)} items of program {config.program.id}; {len(several)} session(s) "
              f"with more than one\n")
    code = ExitCode.INCOMPLETE if notices else ExitCode.OK
    for notice in notices:
        out.write(f"  ! {notice.pairing_id}: {notice.text}\n")
    ctx = Context(client)
    for removal in removals:
        line = f"  {removal.pairing_id}: {removal.describe()}"
        if not apply:
            out.write(line + "\n")
            continue
        try:
            outcome = remove_item(ctx, removal)
        except GraphClientError as exc:
            outcome = outcome_for(removal, exc)
        if outcome.status is Status.done:
            out.write(line + ": removed\n")
        else:
            out.write(f"{line}: {outcome.status.value}: {outcome.reason}\n")
            code = ExitCode.INCOMPLETE
    if removals and not apply:
        out.write(f"{len(removals)} copies nobody edited; run again with --apply to remove "
                  "them\n")
    return code
