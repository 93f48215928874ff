"""A session with a second notes list item (left by an older version after a lost answer, or
by two runs at once): the untouched copy is removed, one a person edited is kept and named."""

from __future__ import annotations

import io
from typing import Any

import pytest

from graph.sandbox.calendar import store_of
from graph.sandbox.sharepoint import SharePointStore, app_identity, user_identity
from graph.sandbox.transport import sandbox_session
from tests.records_helpers import items, store, the_list
from tests.test_records_cli import CLIENT_ID, SITE, make_env
from tests.test_run_e2e import make_world
from worker.cli.demo import DemoWorld
from worker.cli.main import main
from worker.core.properties import RECORD_PROPERTY_ID

KEY = "leadership-2027/ceo-ava/1"
ORGANIZER = "mentoring@contoso.com"


def forget_record(world: DemoWorld, key: str) -> None:
    """The event no longer says which item it has (as events of older versions did not)."""
    owner = world.sandbox.state.directory.get(ORGANIZER)
    for event in store_of(world.sandbox).calendar(owner.id).values():
        props = event.get("singleValueExtendedProperties") or []
        if any(str(p.get("value")) == key for p in props):
            event["singleValueExtendedProperties"] = [
                p for p in props if str(p.get("id", "")).lower() != RECORD_PROPERTY_ID.lower()]


def second_copy(world: DemoWorld, key: str, actor: dict[str, Any] | None = None) -> str:
    [first] = [i for i in items(world) if i.fields.get("SessionKey") == key]
    copy = store(world).insert_item(
        the_list(world), dict(first.fields), now=world.clock.now(),
        actor=actor or app_identity(str(getattr(world.client.credential, "client_id", ""))),
        validate=False)
    return str(copy.id)


def of_key(world: DemoWorld, key: str) -> list[str]:
    return sorted(str(i.id) for i in items(world) if i.fields.get("SessionKey") == key)


def test_an_untouched_second_item_is_removed_and_the_first_kept() -> None:
    world = make_world()
    world.run()
    [first] = of_key(world, KEY)
    copy = second_copy(world, KEY)
    forget_record(world, KEY)
    plan = world.run(apply=False).plan
    [removal] = [a for a in plan.actions if a.kind == "remove-item"]
    assert f"second notes list item {copy} of session 1" in removal.describe()
    summary = world.run()
    assert not summary.not_done() or all(o.action.kind == "install-app"
                                         for o in summary.not_done())
    assert of_key(world, KEY) == [first]
    assert world.run().writes == 0


def test_a_second_item_a_person_edited_is_kept_and_named() -> None:
    world = make_world()
    world.run()
    [first] = of_key(world, KEY)
    ava = world.sandbox.state.directory.get("ava.nguyen@contoso.com")
    copy = second_copy(world, KEY)
    settings = world.config.program.sharepoint
    assert settings is not None
    sp = store(world)
    sp.person_edits(sp.site(settings.site), settings.list, copy, {"Notes": "<p>Our notes</p>"},
                    person=user_identity(ava.id, ava.displayName, ava.mail),
                    now=world.clock.now())
    forget_record(world, KEY)
    summary = world.run()
    assert not [a for a in summary.plan.actions if a.kind == "remove-item"]
    assert any(f"second notes list item ({copy}) that a person edited: kept" in n.text
               for n in summary.plan.notices), summary.plan.notices
    assert of_key(world, KEY) == sorted([first, copy])
    assert the_list(world).items[int(copy)].fields["Notes"] == "<p>Our notes</p>"


def test_a_copy_a_person_created_is_never_removed() -> None:
    world = make_world()
    world.run()
    ava = world.sandbox.state.directory.get("ava.nguyen@contoso.com")
    copy = second_copy(world, KEY, actor=user_identity(ava.id, ava.displayName, ava.mail))
    forget_record(world, KEY)
    summary = world.run()
    assert not [a for a in summary.plan.actions if a.kind == "remove-item"]
    assert copy in of_key(world, KEY)


def test_dedupe_shows_then_removes_the_untouched_copies_across_the_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, clock = make_env(monkeypatch, granted=True)
    session = sandbox_session(sandbox)
    assert main(["sharepoint", "init"], clock=clock, session=session, out=io.StringIO()) == 0
    main(["run"], clock=clock, session=session, out=io.StringIO())
    sp = sandbox.state.sharepoint
    assert isinstance(sp, SharePointStore)
    sp_list = sp.get_list(sp.site(SITE), "Reverse mentoring sessions")
    by_key = {str(i.fields["SessionKey"]): i for i in sp_list.items.values()}
    app = app_identity(CLIENT_ID)
    untouched = sp.insert_item(sp_list, dict(by_key[KEY].fields), now=clock.now(), actor=app,
                               validate=False)
    other = "leadership-2027/cfo-leo/1"
    edited = sp.insert_item(sp_list, {**by_key[other].fields, "Notes": "<p>ours</p>"},
                            now=clock.now(), actor=app, validate=False)
    out = io.StringIO()
    assert main(["sharepoint", "dedupe"], clock=clock, session=session, out=out) == 1
    text = out.getvalue()
    assert f"second notes list item {untouched.id} of session 1" in text
    assert f"second notes list item ({edited.id}) that a person edited: kept" in text
    assert "run again with --apply" in text
    assert untouched.id in sp_list.items  # shown, not removed
    report = io.StringIO()
    assert main(["report"], clock=clock, session=session, out=report) == 0
    assert "more than one item for this session" in report.getvalue()

    out = io.StringIO()
    assert main(["sharepoint", "dedupe", "--apply"], clock=clock, session=session,
                out=out) == 1  # the edited copy is left for a person to merge
    assert f"{untouched.id} of session 1" in out.getvalue() and ": removed" in out.getvalue()
    assert untouched.id not in sp_list.items and edited.id in sp_list.items
    assert by_key[KEY].id in sp_list.items
