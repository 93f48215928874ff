"""The sandbox tenant's whole state, saved to and loaded from one JSON file.

The HTTP server keeps a tenant across restarts (a demo that runs for days, a benchmark that
resumes), so every part of the state serialises. The parts other than the directory (mail and
calendars, SharePoint, Teams) live in their own modules; they are found through `PARTS` by
name and imported lazily, so the state works while a part's module is absent: its saved JSON
is then carried through untouched.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.sandbox.directory import Directory

STATE_FORMAT = 1

# Part name -> (module, class). The class has a no-argument constructor, `to_json() -> dict`
# and a `from_json(dict)` classmethod.
PARTS: dict[str, tuple[str, str]] = {
    "mail": ("graph.sandbox.calendar", "MailStore"),
    "messages": ("graph.sandbox.mail", "MessageStore"),
    "sharepoint": ("graph.sandbox.sharepoint", "SharePointStore"),
    "teams": ("graph.sandbox.teams", "TeamsStore"),
}


@dataclass
class UnloadedPart:
    """A part whose module is not installed: its JSON, kept so a save loses nothing."""

    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.data


def part_class(name: str) -> type[Any] | None:
    """The class of a state part, or None if its module does not exist (yet)."""
    module_name, class_name = PARTS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    found = getattr(module, class_name, None)
    return found if isinstance(found, type) else None


def new_part(name: str) -> Any:
    cls = part_class(name)
    return cls() if cls is not None else UnloadedPart({})


def load_part(name: str, data: dict[str, Any] | None) -> Any:
    cls = part_class(name)
    if cls is None:
        return UnloadedPart(dict(data or {}))
    if data is None:
        return cls()
    return cls.from_json(data)


@dataclass
class TenantState:
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    directory: Directory = field(default_factory=Directory)
    mail: Any = field(default_factory=lambda: new_part("mail"))
    messages: Any = field(default_factory=lambda: new_part("messages"))  # sent mail
    sharepoint: Any = field(default_factory=lambda: new_part("sharepoint"))
    teams: Any = field(default_factory=lambda: new_part("teams"))
    # Verified domains of the tenant (e.g. contoso.onmicrosoft.com); an authority may name
    # the tenant by one of these instead of its id.
    domains: list[str] = field(default_factory=list)

    def tenant_names(self) -> set[str]:
        """Every name that designates this tenant in an authority URL (lower-case)."""
        names = {self.tenant_id.lower(), *(d.lower() for d in self.domains)}
        for user in self.directory.users.values():
            if "@" in user.userPrincipalName:
                names.add(user.userPrincipalName.rsplit("@", 1)[1].lower())
        return names

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "tenant_id": self.tenant_id,
            "domains": list(self.domains),
            "directory": self.directory.to_json(),
            **{name: getattr(self, name).to_json() for name in PARTS},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TenantState:
        fmt = data.get("format", STATE_FORMAT)
        if fmt != STATE_FORMAT:
            raise ValueError(f"unsupported sandbox state format {fmt!r}")
        parts = {name: load_part(name, data.get(name)) for name in PARTS}
        return cls(
            tenant_id=str(data.get("tenant_id") or uuid.uuid4()),
            directory=Directory.from_json(data.get("directory", {})),
            domains=list(data.get("domains", [])),
            **parts,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a crash mid-save leaves the previous file intact."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TenantState:
        with Path(path).open(encoding="utf-8") as handle:
            return cls.from_json(json.load(handle))
