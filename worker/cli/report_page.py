"""The report as one self-contained HTML page, from the Jinja2 template `report/report.html.j2`.

The page opens from a mail attachment on a laptop with no network: its CSS is inline in the
template, the chart is an inline SVG drawn here (no script), and nothing is loaded from
anywhere (no image, font, style sheet or frame). Links to SharePoint items are plain `<a>`
links a reader may follow; the page needs none of them to render.

The template is looked up as the other templates are: in the program's templates directory
(`MENTORING_TEMPLATES_DIR`, `/app/templates` in the container), so a program restyles the
report by putting its own `report/report.html.j2` there. A templates folder made before the
report had a template falls back to the one shipped with the worker. The environment is the
invites' (`worker.config.templates.Templates`): HTML autoescaped, undefined names an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worker.cli.report import Report, ReportError
from worker.config.templates import REPORT_TEMPLATE, Templates
from worker.core.paths import builtin_templates_dir, default_templates_dir


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    value: int
    label: str
    show_label: bool  # the axis labels every few bars when there are many


@dataclass(frozen=True)
class Chart:
    """Held sessions per period as bars, laid out in SVG user units."""

    width: int
    height: int
    left: int  # where the plot starts (room for the axis numbers)
    top: int
    bottom: int  # the baseline's y
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[int, int], ...]  # (y, value) of the horizontal grid lines
    kind: str  # "week" or "month"
    title: str
    desc: str


def chart(report: Report) -> Chart:
    periods = report.periods
    width, height, left, top, bottom_room = 640, 220, 36, 12, 36
    bottom = height - bottom_room
    largest = max([1, *(p.held for p in periods)])
    step = max(1, -(-largest // 4))  # grid every `step` sessions, at most 4 lines (+ zero)
    ceiling = step * -(-largest // step)
    slot = (width - left - 8) / max(1, len(periods))
    every = max(1, -(-len(periods) // 13))  # at most 13 labels under the axis
    bars = []
    for index, period in enumerate(periods):
        bar_height = round((bottom - top) * period.held / ceiling)
        bars.append(Bar(
            x=round(left + index * slot + slot * 0.15), y=bottom - bar_height,
            width=max(1, round(slot * 0.7)), height=bar_height, value=period.held,
            label=period.label, show_label=index % every == 0))
    ticks = tuple((bottom - round((bottom - top) * value / ceiling), value)
                  for value in range(0, ceiling + 1, step))
    total = sum(p.held for p in periods)
    busiest = max(periods, key=lambda p: p.held, default=None)
    unit = "week" if report.period_kind == "week" else "month"
    desc = f"{total} sessions held in {len(periods)} {unit}s"
    if periods:
        desc += (f", from the {unit} of {periods[0].label} to the {unit} of "
                 f"{periods[-1].label}")
    if busiest is not None and busiest.held:
        desc += f"; the most in one {unit}: {busiest.held} ({busiest.label})"
    return Chart(width, height, left, top, bottom, tuple(bars), ticks, report.period_kind,
                 f"Sessions held per {unit}", desc + ".")


def report_templates(templates_dir: Path | None = None) -> Templates:
    """The templates holding the report's page: the program's, else the worker's own."""
    chosen = templates_dir or default_templates_dir()
    for directory in (chosen, builtin_templates_dir()):
        if (directory / REPORT_TEMPLATE).is_file():
            return Templates(directory)
    raise ReportError(f"report template {REPORT_TEMPLATE} not found in {chosen}")


def _percent(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


def _day(instant: datetime | None) -> str:
    return instant.astimezone(UTC).strftime("%d %b %Y") if instant else ""


def render_page(report: Report, templates_dir: Path | None = None) -> str:
    templates = report_templates(templates_dir)
    values: dict[str, Any] = {
        "report": report,
        "headline": report.headline,
        "phases": report.phases,
        "chart": chart(report),
        "pairs": report.pairs,
        "total": report.total,
        "shared": report.shared,
        "attention": report.attention,
        "pairs_attention": report.pairs_attention,
        "pulse_phases": report.pulse_phases,
        "pulse_pairs": report.pulse_pairs,
        "gaps": report.gaps,
        "generated": report.generated.astimezone(UTC).strftime("%d %B %Y %H:%M UTC"),
        "percent": _percent,
        "day": _day,
    }
    return templates.env.get_template(REPORT_TEMPLATE).render(values)
