"""The harness's figures and the table it prints: figure, measured, bound, ok.

A figure with no bound is reported for context (how many kills landed, how many faults fired);
a figure whose bound is broken makes the command exit non-zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Figure:
    scenario: str
    name: str
    measured: float
    bound: float | None = None  # at most this; None: reported, not bounded
    note: str = ""  # what to look at when the bound is broken (a seed, a kill point)

    @property
    def ok(self) -> bool:
        return self.bound is None or self.measured <= self.bound


def at_most(scenario: str, name: str, measured: float, bound: float, note: str = "") -> Figure:
    return Figure(scenario, name, measured, bound, note)


class SessionCounts(Protocol):
    """What one kill or storm found in Microsoft 365 afterwards."""

    @property
    def events_doubled(self) -> int: ...
    @property
    def events_missing(self) -> int: ...
    @property
    def items_doubled(self) -> int: ...
    @property
    def items_missing(self) -> int: ...


def sessions_once(scenario: str, results: Sequence[SessionCounts],
                  where: Callable[[Callable[[Any], bool]], str]) -> list[Figure]:
    """The four bounds every scenario holds: no event or item doubled or missing. `where`
    names the runs that broke one (seed, command to reproduce)."""
    rows = (("duplicate events", "events_doubled"), ("missing events", "events_missing"),
            ("duplicate items", "items_doubled"), ("missing items", "items_missing"))
    def broke(attr: str) -> Callable[[Any], bool]:
        return lambda result: bool(getattr(result, attr) > 0)

    return [at_most(scenario, name, sum(getattr(r, attr) for r in results), 0,
                    where(broke(attr)))
            for name, attr in rows]


def info(scenario: str, name: str, measured: float, note: str = "") -> Figure:
    return Figure(scenario, name, measured, None, note)


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def render(figures: Sequence[Figure]) -> str:
    """One table per scenario, in the order the figures came."""
    lines: list[str] = []
    scenarios = list(dict.fromkeys(f.scenario for f in figures))
    for scenario in scenarios:
        rows = [f for f in figures if f.scenario == scenario]
        width = max(len(f.name) for f in rows)
        lines.append(f"{scenario}")
        lines.append(f"  {'figure':<{width}}  {'measured':>9}  {'bound':>7}  ok")
        for f in rows:
            bound = "-" if f.bound is None else f"<= {_number(f.bound)}"
            mark = "" if f.bound is None else ("yes" if f.ok else "NO")
            lines.append(f"  {f.name:<{width}}  {_number(f.measured):>9}  {bound:>7}  {mark}")
        for f in rows:
            if not f.ok and f.note:
                lines.append(f"  broken: {f.name}: {f.note}")
        lines.append("")
    return "\n".join(lines)
