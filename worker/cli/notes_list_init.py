"""`mentoring sharepoint init`: create the program's notes list, or check an existing one and
add what is missing (a column, an index); a second `init` reads and writes nothing. Without a
grant on the site, Graph answers 403 and `init` says exactly what an admin must do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graph import sharepoint
from graph.client import GraphClient
from graph.errors import Forbidden
from worker.config.program import Program, SharePointSettings
from worker.core.notes_list import (
    COLUMNS,
    PUBLISHED_COLUMNS,
    READ_COLUMNS,
    TITLE,
    ColumnSpec,
    list_columns,
)
from worker.observe.notes_list import PermissionMissing, grant_instructions, resolve_site


@dataclass
class InitResult:
    title: str = ""
    columns: int = 0
    site_id: str = ""
    list_id: str = ""
    list_url: str = ""
    created_list: bool = False
    added_columns: list[str] = field(default_factory=list)
    indexed_columns: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def wrote(self) -> bool:
        return self.created_list or bool(self.added_columns or self.indexed_columns)

    def render_text(self) -> str:
        if self.created_list:
            head = f"Created list '{self.title}' with {self.columns} columns"
        elif self.wrote:
            head = (f"Completed list '{self.title}': added {self.added_columns or 'none'}, "
                    f"indexed {self.indexed_columns or 'none'}")
        else:
            head = f"List '{self.title}' is complete; nothing written"
        lines = [f"{head}.", f"  site id: {self.site_id}", f"  list id: {self.list_id}"]
        if self.list_url:
            lines.append(f"  list: {self.list_url}")
        lines.extend(f"  PROBLEM: {p}" for p in self.problems)
        return "\n".join(lines)


def column_problems(existing: dict[str, Any], spec: ColumnSpec) -> str | None:
    """A column that exists with another type cannot be fixed by us: say so."""
    wanted = spec.graph_type()
    if wanted in existing:
        return None
    present = [k for k in ("text", "number", "boolean", "dateTime", "choice", "personOrGroup",
                           "lookup", "calculated", "currency") if k in existing]
    return (f"column {spec.name} is {present[0] if present else 'of another type'}, "
            f"expected {wanted}: fix or rename it in SharePoint")


def init_lists(client: GraphClient, program: Program,
               client_id: str | None = None) -> list[InitResult]:
    """Every list the program uses: the notes list (with the consent boxes when it publishes
    notes), and the published notes list when it does."""
    settings = program.sharepoint
    if settings is None:
        return []
    results = [init_list(client, settings, client_id,
                         columns=list_columns(consent=program.publishing is not None))]
    if program.publishing is not None:
        results.append(init_list(client, settings, client_id, columns=PUBLISHED_COLUMNS,
                                 title=program.publishing.list))
    return results


def init_list(client: GraphClient, settings: SharePointSettings,
              client_id: str | None = None, *, columns: Sequence[ColumnSpec] = COLUMNS,
              title: str | None = None) -> InitResult:
    """Create the list (`title`, the notes list by default), or complete an existing one.
    Idempotent: a complete list costs two reads (site, list with columns) and no write."""
    site = resolve_site(client, settings, client_id)
    title = title or settings.list
    result = InitResult(title=title, columns=len(columns), site_id=str(site.get("id", "")))
    try:
        found = sharepoint.find_list(client, result.site_id, title)
        if found is None:
            created = sharepoint.create_list(
                client, result.site_id, title, [c.definition() for c in columns]
            )
            result.created_list = True
            result.list_id = str(created.get("id", ""))
            result.list_url = str(created.get("webUrl", ""))
            return result
        result.list_id = str(found.get("id", ""))
        result.list_url = str(found.get("webUrl", ""))
        present = {str(c.get("name", "")).lower(): c for c in found.get("columns") or []}
        for spec in columns:
            existing = present.get(spec.name.lower())
            if existing is None:
                sharepoint.add_column(client, result.site_id, result.list_id, spec.definition())
                result.added_columns.append(spec.name)
                continue
            problem = column_problems(existing, spec)
            if problem:
                result.problems.append(problem)
                continue
            if spec.indexed and not existing.get("indexed"):
                sharepoint.update_column(client, result.site_id, result.list_id,
                                         str(existing.get("id") or spec.name), {"indexed": True})
                result.indexed_columns.append(spec.name)
    except Forbidden as exc:
        raise PermissionMissing(
            grant_instructions(settings, client_id, result.site_id)
        ) from exc
    return result


def missing_columns(found: dict[str, Any], names: Sequence[str] = READ_COLUMNS) -> list[str]:
    columns = {str(c.get("name", "")).lower() for c in found.get("columns") or []}
    return [n for n in names if n != TITLE and n.lower() not in columns]
