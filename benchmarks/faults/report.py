"""The harness's figures and the table it prints: figure, measured, bound, ok.

A figure with no bound is reported for context (how many kills landed, how many faults fired);
a figure whose bound is broken makes the command exit non-zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
