"""`mentoring pairings export`: the pairings as a spreadsheet's CSV, with each pair's progress.

The round trip an admin makes: export, edit in Excel, save as `config/pairings.csv`. The
config columns come first, written as `worker.config.csv_source` reads them; the progress
columns after them come from the notes list (what `report` counts) and are read-only: the
loader ignores them when the file comes back (`csv_source.PROGRESS_COLUMNS`). Without a
notes list (no `sharepoint` section) the progress columns are left empty.

Cells that a spreadsheet would take for a formula (`=`, `+`, `-`, `@` first) get a leading
apostrophe, as in the report's CSV; no config value can start that way (ids are slugs, mails
and dates cannot), so the config columns read back unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from worker.cli.report import Report, Tally, _csv_safe
from worker.config import Config, Pairing
from worker.config.csv_source import CSV_COLUMNS, PROGRESS_COLUMNS


def _config_cells(pairing: Pairing) -> dict[str, str]:
    tailoring = pairing.tailoring
    cells = {
        "id": pairing.id, "mentor": pairing.mentor, "mentee": pairing.mentee,
        "start": pairing.start.isoformat(), "status": pairing.status,
        "notes": pairing.notes or "", "assistant": pairing.assistant or "",
    }
    if tailoring is not None:
        cells["preferred_weekdays"] = ";".join(d.value for d in tailoring.preferred_weekdays or ())
        cells["preferred_earliest"] = (tailoring.preferred_earliest.strftime("%H:%M")
                                       if tailoring.preferred_earliest else "")
        cells["preferred_latest"] = (tailoring.preferred_latest.strftime("%H:%M")
                                     if tailoring.preferred_latest else "")
        cells["topic_order"] = ";".join(str(n) for n in tailoring.topic_order or ())
    return cells


def _progress_cells(tally: Tally | None, sessions: int) -> dict[str, str]:
    if tally is None:
        return dict.fromkeys(PROGRESS_COLUMNS, "")
    return {"sessions_total": str(sessions), "sessions_booked": str(tally.booked),
            "sessions_held": str(tally.held), "notes_posted": str(tally.notes_posted),
            "notes_shared": str(tally.notes_shared),
            "needs_attention": str(tally.needs_attention)}


def export_csv(config: Config, report: Report | None) -> str:
    """Every pairing of `config` (in file order) as CSV; progress from `report` when given."""
    tallies: Mapping[str, Tally] = ({t.pairing_id: t for t in report.pairs}
                                    if report is not None else {})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CSV_COLUMNS, *PROGRESS_COLUMNS])
    for pairing in config.pairings:
        if pairing.tailoring is not None and pairing.tailoring.replace:
            raise ExportError(
                f"pairing {pairing.id} replaces sessions (tailoring.replace), which a CSV "
                "cannot hold: keep this program's pairings in pairings.yaml")
        cells = {**dict.fromkeys(CSV_COLUMNS, ""), **_config_cells(pairing)}
        sessions = len(pairing.sessions(config.program))
        progress = _progress_cells(tallies.get(pairing.id) if report is not None else None,
                                   sessions)
        writer.writerow([_csv_safe(cells[c]) for c in CSV_COLUMNS]
                        + [progress[c] for c in PROGRESS_COLUMNS])
    return buffer.getvalue()


class ExportError(Exception):
    """The pairings cannot be written as CSV; the message says why and what to do."""
