"""The one error every OData option parser raises, and its translation to Graph's 400.

The parsers know nothing of which service asked, so they raise `ODataError` and each caller
turns it into its own service's code; keeping it apart lets the filter grammar and the other
options share it without depending on each other.
"""

from __future__ import annotations

from graph.sandbox.core import GraphError


class ODataError(ValueError):
    """A query option Graph would reject. `position` is the character offset, when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def to_graph_error(
        self, code: str = "BadRequest", prefix: str = "Invalid filter clause"
    ) -> GraphError:
        """Graph's 400 for this error. Outlook uses ``BadRequest`` / "Invalid filter clause"."""
        detail = f"{prefix}: {self.message}" if prefix else self.message
        return GraphError(400, code, detail)
