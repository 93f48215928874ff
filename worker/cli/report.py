"""`mentoring report`: what a program admin sends the executive sponsor.

Per pair and for the whole program: sessions booked, held, declined, rescheduled, cancelled,
notes posted, notes shared. Read from the SharePoint list (the record of what happened), once,
page by page: a report may read the whole list, a run never does. Only items the pair marked
"shared with the program" and that hold notes count as published.

Three renderings: text for a terminal, CSV for a spreadsheet, and one self-contained HTML page
(inline CSS and an inline SVG chart, no script, no external style, image or font) that opens
from a mail attachment on a laptop with no network. Links to SharePoint items are plain `<a>`
links a reader may follow; the page needs none of them to render.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from graph import sharepoint
from graph.client import GraphClient
from worker.config import Config
from worker.core.notes_list import (
    CANCELLED,
    DECLINED,
    HELD,
    READ_COLUMNS,
)
from worker.observe.notes_list import NotesListUnavailable, require_list
from worker.observe.state import item_order
from worker.plan.items import has_notes


class ReportError(Exception):
    """The report cannot be made (no list yet, no permission): the message says why."""


@dataclass
class Tally:
    """Counts for one pair, or for the program (pairing_id "ALL")."""

    pairing_id: str
    mentor: str = ""
    mentee: str = ""
    booked: int = 0
    held: int = 0
    declined: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    notes_posted: int = 0
    notes_missing: int = 0
    notes_shared: int = 0
    needs_attention: int = 0

    def add(self, item: dict[str, Any]) -> None:
        status = item.get("SessionStatus")
        self.booked += 1
        self.held += status == HELD
        self.declined += status == DECLINED
        self.cancelled += status == CANCELLED
        try:
            self.rescheduled += float(item.get("RescheduleCount") or 0) > 0
        except (TypeError, ValueError):
            pass
        posted = has_notes(item.get("Notes"))
        self.notes_posted += posted
        self.notes_missing += status == HELD and not posted
        self.notes_shared += posted and item.get("SharedWithProgram") is True
        self.needs_attention += bool(str(item.get("Attention") or "").strip())


COUNT_COLUMNS = ("booked", "held", "declined", "rescheduled", "cancelled", "notes_posted",
                 "notes_missing", "notes_shared", "needs_attention")


@dataclass(frozen=True)
class Attention:
    """A session the program team must look at, and why (the worker writes it on the item)."""

    pairing_id: str
    title: str
    text: str


@dataclass(frozen=True)
class SharedNote:
    title: str
    pairing_id: str
    url: str


@dataclass
class Report:
    program_id: str
    program_name: str
    generated: datetime
    pairs: list[Tally]
    total: Tally
    shared: list[SharedNote]
    list_url: str = ""
    attention: list[Attention] = field(default_factory=list)


def build_report(items: Iterable[dict[str, Any]], config: Config, generated: datetime,
                 list_url: str = "") -> Report:
    """Pure: item JSON (with `fields`) -> the report. Items of other programs are ignored."""
    pairs: dict[str, Tally] = {
        p.id: Tally(p.id, p.mentor, p.mentee) for p in config.pairings
    }
    total = Tally("ALL")
    shared: list[SharedNote] = []
    attention: list[Attention] = []
    for item, seconds in _per_session(items, config.program.id):
        values = item.get("fields") or {}
        pairing_id = str(values.get("PairingId") or "")
        tally = pairs.setdefault(pairing_id, Tally(pairing_id))
        if values.get("MentorName"):
            tally.mentor = str(values["MentorName"])
        if values.get("MenteeName"):
            tally.mentee = str(values["MenteeName"])
        tally.add(values)
        total.add(values)
        if has_notes(values.get("Notes")) and values.get("SharedWithProgram") is True:
            shared.append(SharedNote(str(values.get("Title") or values.get("SessionKey")),
                                     pairing_id, str(item.get("webUrl") or "")))
        if str(values.get("Attention") or "").strip():
            attention.append(Attention(pairing_id, str(values.get("Title") or
                                                       values.get("SessionKey")),
                                       str(values["Attention"]).strip()))
        if seconds:
            ids = ", ".join(str(other.get("id", "")) for other in seconds)
            attention.append(Attention(
                pairing_id, str(values.get("Title") or values.get("SessionKey")),
                f"more than one item for this session (also {ids}; item {item.get('id', '')} "
                "counts): `mentoring sharepoint dedupe` removes copies nobody edited; merge "
                "the others by hand"))
    return Report(config.program.id, config.program.name, generated,
                  [pairs[k] for k in sorted(pairs)], total, shared, list_url,
                  sorted(attention, key=lambda a: (a.pairing_id, a.title)))


def _per_session(items: Iterable[dict[str, Any]], program_id: str,
                 ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """This program's items, one per session (the oldest counts), with any second items."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        values = item.get("fields") or {}
        if values.get("ProgramId") == program_id:
            key = str(values.get("SessionKey") or f"item {item.get('id', '')}")
            by_key.setdefault(key, []).append(item)
    found = []
    for key in sorted(by_key):
        ordered = sorted(by_key[key], key=item_order)
        found.append((ordered[0], ordered[1:]))
    return found


def read_report(client: GraphClient, config: Config, generated: datetime) -> Report:
    settings = config.program.sharepoint
    if settings is None:
        raise ReportError("program.yaml has no sharepoint section: there is no list to report")
    try:
        ref = require_list(client, settings)
    except NotesListUnavailable as exc:
        raise ReportError(str(exc)) from exc
    items = sharepoint.all_items(client, ref.site_id, ref.list_id, select=READ_COLUMNS)
    return build_report(items, config, generated, ref.web_url)


# ---------------------------------------------------------------------------------------------
# Renderings


def _rows(report: Report) -> list[Tally]:
    return [*report.pairs, report.total]


def render_text(report: Report) -> str:
    head = ["pairing", *COUNT_COLUMNS]
    rows = [[t.pairing_id, *(str(getattr(t, c)) for c in COUNT_COLUMNS)] for t in _rows(report)]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [f"{report.program_name} ({report.program_id}), "
             f"{report.generated.strftime('%Y-%m-%d %H:%M UTC')}"]
    for row in [head, *rows]:
        lines.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)))
    lines.append(f"{len(report.shared)} session note(s) shared with the program.")
    if report.attention:
        lines.append(f"Needs attention ({len(report.attention)}):")
        lines.extend(f"  {a.pairing_id}: {a.title}: {a.text}" for a in report.attention)
    return "\n".join(lines) + "\n"


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f.name for f in fields(Tally)])
    for tally in _rows(report):
        writer.writerow([_csv_safe(getattr(tally, f.name)) for f in fields(Tally)])
    return buffer.getvalue()


def _csv_safe(value: Any) -> Any:
    # Names come from the directory; a cell starting with = + - @ would be a formula in Excel.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1b1b1b}
h1{font-size:1.4rem;margin-bottom:.2rem}p.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:1rem 0}th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd}
th{text-align:left;background:#f3f2f1}td.n{text-align:right}tr.total td{font-weight:600}
.legend span{display:inline-block;margin-right:1rem}.sw{width:.8rem;height:.8rem;
display:inline-block;margin-right:.3rem;vertical-align:middle}
"""
SERIES = (("held", "#0078d4"), ("notes_posted", "#8764b8"), ("notes_shared", "#107c10"))


def _chart(report: Report) -> str:
    """Grouped horizontal bars per pair: held, notes posted, notes shared."""
    bar, gap, label_w, width = 8, 10, 150, 420
    largest = max([1, *(t.booked for t in report.pairs)])
    height = len(report.pairs) * (bar * len(SERIES) + gap) + gap
    full = label_w + width + 40
    parts = [f'<svg role="img" aria-label="Sessions held and notes per pair" width="{full}" '
             f'height="{height}" viewBox="0 0 {full} {height}">']
    y = gap
    for tally in report.pairs:
        parts.append(f'<text x="0" y="{y + bar * 2}" font-size="11">'
                     f"{html.escape(tally.pairing_id)}</text>")
        for index, (name, colour) in enumerate(SERIES):
            value = int(getattr(tally, name))
            w = round(width * value / largest)
            top = y + index * bar
            parts.append(f'<rect x="{label_w}" y="{top}" width="{w}" height="{bar - 1}" '
                         f'fill="{colour}"><title>{name.replace("_", " ")}: {value}</title></rect>')
            parts.append(f'<text x="{label_w + w + 4}" y="{top + bar - 1}" font-size="9">'
                         f"{value}</text>")
        y += bar * len(SERIES) + gap
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: Report) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in COUNT_COLUMNS)
    rows = []
    for tally in _rows(report):
        css = ' class="total"' if tally is report.total else ""
        who = "Program" if tally is report.total else f"{tally.mentor} / {tally.mentee}"
        cells = "".join(f'<td class="n">{getattr(tally, c)}</td>' for c in COUNT_COLUMNS)
        rows.append(f"<tr{css}><td>{esc(tally.pairing_id)}</td><td>{esc(who)}</td>{cells}</tr>")
    legend = "".join(f'<span><i class="sw" style="background:{colour}"></i>'
                     f'{esc(name.replace("_", " "))}</span>' for name, colour in SERIES)
    shared = "".join(
        f"<li>{_link(note.url, note.title)} ({esc(note.pairing_id)})</li>"
        for note in report.shared
    ) or "<li>None yet.</li>"
    attention = "".join(
        f"<li><b>{esc(a.pairing_id)}</b>: {esc(a.title)}: {esc(a.text)}</li>"
        for a in report.attention
    ) or "<li>Nothing: every pair is on track.</li>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(report.program_name)}: report</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(report.program_name)}</h1>"
        f"<p class=\"sub\">Program {esc(report.program_id)}; report of "
        f"{report.generated.strftime('%d %B %Y %H:%M')} UTC.</p>"
        f"<table><thead><tr><th>pairing</th><th>mentor / mentee</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"<h2>Sessions held and notes, per pair</h2><p class=\"legend\">{legend}</p>"
        f"{_chart(report)}"
        f"<h2>Needs attention</h2><ul>{attention}</ul>"
        f"<h2>Notes shared with the program</h2><ul>{shared}</ul>"
        "</body></html>\n"
    )


def _link(url: str, text: str) -> str:
    if url.startswith("https://"):
        return f'<a href="{html.escape(url)}">{html.escape(text)}</a>'
    return html.escape(text)


def render(report: Report, fmt: str) -> str:
    renderers = {"text": render_text, "csv": render_csv, "html": render_html}
    return renderers[fmt](report)


FORMATS: Sequence[str] = ("text", "csv", "html")
