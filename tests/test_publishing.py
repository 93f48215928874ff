"""Publishing notes with both people's consent, through the sandbox: each person ticks their own
box on the session's item; the worker checks in the item's version history that the person the
box speaks for ticked it, copies the notes, topic, phase and date into the published list, and
removes the copy when either unticks. A box ticked by anyone else is refused and reported."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from graph.sandbox.sharepoint import SharePointStore, SPList
from tests.records_helpers import item_for, person_edits, store
from tests.test_run_e2e import EXAMPLE_CONFIG, START, make_world
from worker.cli.demo import DemoWorld
from worker.config import ConfigError, load_config
from worker.core.exit_codes import ExitCode
from worker.plan.actions import PublishNotes, UnpublishNotes
from worker.run.job import execute

PUBLISHED = "Reverse mentoring published notes"
KEY = "leadership-2027/ceo-ava/1"
SECOND = "leadership-2027/ceo-ava/2"
OTHER = "leadership-2027/cfo-leo/1"
MENTOR, MENTEE = "ava.nguyen@contoso.com", "margaret.hale@contoso.com"
STRANGER = "leo.martins@contoso.com"  # another pair's mentor, with edit rights on the list
NOTES = "<p>We set up her phone's focus modes; she wants to try LinkedIn posts.</p>"
PRIVATE = "<p>Private: she worries about the reorganisation.</p>"


def publishing_config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    program = config / "program.yaml"
    program.write_text(program.read_text(encoding="utf-8")
                       + f"\npublishing:\n  list: {PUBLISHED}\n", encoding="utf-8")
    return config


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    built = make_world(publishing_config(tmp_path))
    built.run()  # books the first sessions and makes their items
    yield built


def edits(world: DemoWorld, key: str, fields: dict[str, Any], upn: str) -> None:
    """`upn` saves the item in the browser."""
    person_edits(world, key, fields, upn)


def items_path(world: DemoWorld, title: str) -> str:
    """The Graph path of a list's items on the program's site, found as a client finds it."""
    settings = world.config.program.sharepoint
    assert settings is not None
    site = world.client.request("GET", f"/sites/{settings.site}").json_object()
    lists = world.client.request("GET", f"/sites/{site['id']}/lists").json_object()
    [ref] = [x for x in lists["value"] if x["displayName"] == title]
    return f"/sites/{site['id']}/lists/{ref['id']}/items"


def published(world: DemoWorld) -> SPList:
    settings = world.config.program.sharepoint
    assert settings is not None
    sp = world.sandbox.state.sharepoint
    assert isinstance(sp, SharePointStore)
    return sp.get_list(sp.site(settings.site), PUBLISHED)


def copies(world: DemoWorld) -> dict[str, dict[str, Any]]:
    return {str(i.fields["SessionKey"]): i.fields for i in published(world).items.values()}


def both_agree(world: DemoWorld, key: str = KEY) -> None:
    edits(world, key, {"Notes": NOTES, "MentorConsent": True}, MENTOR)
    edits(world, key, {"MenteeConsent": True}, MENTEE)


def test_sharepoint_init_makes_the_published_list_and_the_consent_boxes(
        world: DemoWorld) -> None:
    columns = {c.lower() for c in published(world).columns}
    assert {"sessionkey", "topic", "phase", "sessiondate", "notes"} <= columns
    assert not columns & {"mentoremail", "menteeemail", "mentorname", "menteename"}
    item = item_for(world, KEY)
    assert item.fields["MentorConsent"] is False and item.fields["MenteeConsent"] is False


def test_notes_both_people_agreed_to_are_published(world: DemoWorld) -> None:
    both_agree(world)
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    [action] = [a for a in plan.actions if isinstance(a, PublishNotes)]
    assert action.describe().startswith("+ publish the notes of session 1 (both agreed ")
    assert "1 notes to publish or update" in plan.render_text()

    summary = world.run()
    assert summary.exit_code == ExitCode.OK or summary.failed.keys() <= {"engagement-sam"}
    copy = copies(world)[KEY]
    assert copy["Notes"] == NOTES
    assert copy["Topic"] == "Technology and Devices"
    assert copy["Phase"] and copy["SessionDate"] == item_for(world, KEY).fields["SessionStart"]
    assert MENTOR not in str(copy) and MENTEE not in str(copy)  # no names, no addresses
    assert set(copies(world)) == {KEY}


def test_a_second_run_publishes_nothing_and_reads_no_version_history(
        world: DemoWorld) -> None:
    both_agree(world)
    world.run()
    asked: list[str] = []
    original = requests.Session.send

    def recording(session: requests.Session, request: Any, **kwargs: Any) -> Any:
        asked.append(str(request.url))
        return original(session, request, **kwargs)

    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert not [a for a in plan.actions if isinstance(a, PublishNotes | UnpublishNotes)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "send", recording)
        summary = world.run()
    assert summary.writes == 0
    assert not [url for url in asked if "/versions" in url]


def test_a_box_ticked_by_someone_else_is_refused_and_reported(world: DemoWorld) -> None:
    edits(world, KEY, {"Notes": NOTES, "MentorConsent": True}, MENTOR)
    edits(world, KEY, {"MenteeConsent": True}, STRANGER)  # not the mentee
    summary = world.run()
    assert copies(world) == {}
    reasons = summary.failed["ceo-ava"]
    assert any("notes of session 1 not published: the mentee's box was ticked by Leo Martins, "
               f"not by the mentee ({MENTEE})" in r for r in reasons), reasons
    assert summary.exit_code == ExitCode.INCOMPLETE

    edits(world, KEY, {"MenteeConsent": False}, MENTEE)  # she unticks it and ticks it herself
    edits(world, KEY, {"MenteeConsent": True}, MENTEE)
    world.run()
    assert copies(world)[KEY]["Notes"] == NOTES


def test_a_box_the_worker_ticked_is_no_consent_either(world: DemoWorld) -> None:
    settings = world.config.program.sharepoint
    assert settings is not None
    sp = store(world)
    the_item = item_for(world, KEY)
    sp_list = sp.get_list(sp.site(settings.site), settings.list)
    # An app with write access (this one, or any other) ticks both boxes.
    sp.update_fields(sp_list, the_item, {"Notes": NOTES, "MentorConsent": True,
                                         "MenteeConsent": True},
                     now=world.clock.now(), actor={"application": {"id": "x",
                                                                   "displayName": "Other app"}})
    summary = world.run()
    assert copies(world) == {}
    assert any("the mentor's box was ticked by the app Other app" in r
               for r in summary.failed["ceo-ava"])


def test_withdrawing_either_consent_removes_the_copy(world: DemoWorld) -> None:
    both_agree(world)
    world.run()
    assert KEY in copies(world)
    edits(world, KEY, {"MentorConsent": False}, MENTOR)
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    [action] = [a for a in plan.actions if isinstance(a, UnpublishNotes)]
    assert action.describe() == "- published notes of session 1 (consent withdrawn)"
    world.run()
    assert copies(world) == {}
    assert item_for(world, KEY).fields["Notes"] == NOTES  # the pair's item stays theirs


def test_notes_changed_after_the_consents_stay_unpublished_until_both_agree_again(
        world: DemoWorld) -> None:
    both_agree(world)
    world.run()
    edits(world, KEY, {"Notes": NOTES + PRIVATE}, MENTOR)
    summary = world.run()
    assert copies(world)[KEY]["Notes"] == NOTES
    assert any("the notes changed after both agreed" in text
               for text in summary.warnings.get("ceo-ava", [])), summary.warnings
    assert world.run().writes == 0  # checked once, remembered on the copy

    for person, column in ((MENTOR, "MentorConsent"), (MENTEE, "MenteeConsent")):
        edits(world, KEY, {column: False}, person)
        edits(world, KEY, {column: True}, person)
    world.run()
    assert copies(world)[KEY]["Notes"] == NOTES + PRIVATE


def test_a_reader_of_the_published_list_sees_no_unconsented_text(world: DemoWorld) -> None:
    both_agree(world)
    edits(world, OTHER, {"Notes": PRIVATE, "MentorConsent": True},
          "leo.martins@contoso.com")  # only the mentor agreed
    edits(world, SECOND, {"Notes": PRIVATE}, MENTOR)  # nobody agreed
    world.run()
    seen = world.client.request("GET", items_path(world, PUBLISHED),
                                params={"$expand": "fields"}).json_object()
    text = str(seen)
    assert "focus modes" in text
    assert "reorganisation" not in text
    assert len(seen["value"]) == 1


def test_a_list_without_versions_far_enough_back_proves_nothing(world: DemoWorld) -> None:
    both_agree(world)
    the_item = item_for(world, KEY)
    the_item.trim_history(1)  # the site keeps only the latest version
    summary = world.run()
    assert copies(world) == {}
    assert any("the version history no longer shows who ticked" in r
               for r in summary.failed["ceo-ava"])


def test_the_sandbox_filters_a_yes_no_column_as_sharepoint_does(world: DemoWorld) -> None:
    both_agree(world)
    path = items_path(world, "Reverse mentoring sessions")

    def keys(flt: str) -> set[str]:
        found = world.client.request("GET", path, params={"$filter": flt, "$expand": "fields"})
        return {str(i["fields"]["SessionKey"]) for i in found.json_object()["value"]}

    assert keys("fields/MentorConsent eq 1") == {KEY}
    assert KEY not in keys("fields/MentorConsent eq true")  # the opposite, as in SharePoint
    assert KEY not in keys("fields/MentorConsent eq 'true'")


def test_the_sandbox_lists_item_versions_newest_first_with_who_saved_each(
        world: DemoWorld) -> None:
    both_agree(world)
    path = f"{items_path(world, 'Reverse mentoring sessions')}/{item_for(world, KEY).id}/versions"
    bare = world.client.request("GET", path).json_object()["value"]
    assert "fields" not in bare[0]
    versions = world.client.request("GET", path, params={"$expand": "fields"}).json_object()
    newest, previous = versions["value"][0], versions["value"][1]
    assert float(newest["id"]) > float(previous["id"])
    assert newest["lastModifiedBy"]["user"]["email"] == MENTEE
    assert newest["fields"]["MenteeConsent"] is True
    assert previous["fields"]["MenteeConsent"] is False
    assert previous["lastModifiedBy"]["user"]["email"] == MENTOR
    assert versions["value"][-1]["lastModifiedBy"].get("application")  # the worker made it


def test_publishing_needs_the_notes_list_and_a_list_of_its_own(tmp_path: Path) -> None:
    config = publishing_config(tmp_path)
    program = config / "program.yaml"
    text = program.read_text(encoding="utf-8")
    program.write_text(text.replace(f"list: {PUBLISHED}", "list: Reverse mentoring sessions"),
                       encoding="utf-8")
    with pytest.raises(ConfigError, match=r"publishing\.list must be another list"):
        load_config(config, today=START.date())


def test_a_lost_answer_to_a_publish_makes_no_second_copy(world: DemoWorld) -> None:
    from tests.test_lost_answers import lose

    both_agree(world)
    published_id = published(world).id
    lost = lose(world, 1, lambda method, url: method == "POST"
                and url.endswith(f"/lists/{published_id}/items"))
    world.run()
    assert lost.lost  # the copy was made, its answer dropped
    assert [i.fields["SessionKey"] for i in published(world).items.values()] == [KEY]
    world.run()
    assert len(published(world).items) == 1


def test_the_saved_tenant_keeps_each_item_s_history_and_the_column_defaults(
        world: DemoWorld) -> None:
    both_agree(world)
    saved = SharePointStore.from_json(store(world).to_json())
    settings = world.config.program.sharepoint
    assert settings is not None
    sp_list = saved.get_list(saved.site(settings.site), settings.list)
    [again] = [i for i in sp_list.items.values() if i.fields.get("SessionKey") == KEY]
    assert [v.number for v, _ in again.versions()] == [
        v.number for v, _ in item_for(world, KEY).versions()]
    assert sp_list.column("MentorConsent") is not None
    assert sp_list.column("MentorConsent").default() is False  # type: ignore[union-attr]


def test_the_report_counts_and_quotes_only_the_published_copies(world: DemoWorld) -> None:
    from worker.cli.report import read_report, render_html

    both_agree(world)
    world.run()
    edits(world, KEY, {"Notes": NOTES + PRIVATE}, MENTOR)  # after both agreed: not published
    edits(world, OTHER, {"Notes": PRIVATE, "SharedWithProgram": True}, STRANGER)
    report = read_report(world.client, world.config, world.clock.now())
    assert report.publishing
    assert [n.number for n in report.shared] == [1] and report.shared[0].pairing_id == "ceo-ava"
    assert "focus modes" in report.shared[0].excerpt
    assert "reorganisation" not in report.shared[0].excerpt
    assert report.total.notes_shared == 1
    page = render_html(report)
    assert "reorganisation" not in page
    assert "published with both people's consent" in page


def test_a_consent_deep_in_a_long_history_is_found_on_a_later_page(world: DemoWorld) -> None:
    both_agree(world)
    for n in range(25):  # the pair keeps working on the item: 25 more versions
        edits(world, KEY, {"Agenda": f"<p>Our plan, take {n}</p>"}, MENTOR)
    assert len(item_for(world, KEY).history) > 25  # more than two pages of ten
    world.run()
    assert copies(world)[KEY]["Notes"] == NOTES
