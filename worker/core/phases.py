"""The three phases of a reverse mentoring relationship, and how the notes list shows them."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """The three stages a reverse mentoring relationship goes through."""

    trust = "trust"
    aha = "aha"
    brainstorm = "brainstorm"

    @property
    def label(self) -> str:
        return _PHASE_LABELS[self]


_PHASE_LABELS = {
    Phase.trust: "Gain trust and buy-in",
    Phase.aha: "Aha moments",
    Phase.brainstorm: "Creative brainstorming",
}
