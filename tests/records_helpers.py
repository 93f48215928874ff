"""Helpers for the SharePoint records tests: a world with the program's list, the list's items
as the sandbox holds them, people's edits, and a counter of SharePoint requests."""

from __future__ import annotations

import json
from typing import Any

import requests
from requests.adapters import BaseAdapter

from graph.sandbox.sharepoint import ListItem, SharePointStore, SPList, user_identity
from tests.test_run_e2e import make_world
from worker.cli.demo import DemoWorld


def records_world() -> DemoWorld:
    return make_world()


def store(world: DemoWorld) -> SharePointStore:
    found = world.sandbox.state.sharepoint
    assert isinstance(found, SharePointStore)
    return found


def the_list(world: DemoWorld) -> SPList:
    settings = world.config.program.sharepoint
    assert settings is not None
    sp = store(world)
    return sp.get_list(sp.site(settings.site), settings.list)


def items(world: DemoWorld) -> list[ListItem]:
    return [i for i in the_list(world).items.values()
            if i.fields.get("ProgramId") == world.config.program.id]


def item_for(world: DemoWorld, key: str) -> ListItem:
    found = [i for i in items(world) if i.fields.get("SessionKey") == key]
    assert len(found) == 1, f"{len(found)} items for {key}"
    return found[0]


def person_edits(world: DemoWorld, key: str, fields: dict[str, Any],
                 upn: str = "ava.nguyen@contoso.com") -> None:
    """Someone types into the item in the browser."""
    settings = world.config.program.sharepoint
    assert settings is not None
    sp = store(world)
    person = world.sandbox.state.directory.get(upn)
    sp.person_edits(sp.site(settings.site), settings.list, str(item_for(world, key).id), fields,
                    person=user_identity(person.id, person.displayName, person.mail),
                    now=world.clock.now())


def is_sharepoint(request: requests.PreparedRequest) -> bool:
    url = request.url or ""
    if "/sites/" in url:
        return True
    if url.split("?", 1)[0].endswith("/$batch") and request.body:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        return any("/sites/" in str(r.get("url", "")) for r in json.loads(body)["requests"])
    return False


class SharePointCounter(BaseAdapter):
    """Counts HTTP requests that reach SharePoint (a `$batch` of SharePoint calls counts once)."""

    def __init__(self, inner: BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if is_sharepoint(request):
            self.calls.append(f"{request.method} {request.url}")
        return self.inner.send(request, **kwargs)

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls

    def close(self) -> None:
        self.inner.close()
