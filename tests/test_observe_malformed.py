"""Broken or hostile answers from Graph, met by whole runs through the sandbox tenant.

Each test corrupts Graph's answers on the way to the worker (as a broken proxy or a hostile
network would: an HTML page, the wrong content type, a body cut off, fields of the wrong type
or missing, a page too large, a nextLink that loops or leads elsewhere) and runs `mentoring
run` as the container does. Every time: a named error in the log or the run's summary, the
documented exit code, no traceback, and the next clean run leaves each session booked once
and each notes list item written once.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from io import BytesIO, StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from tests.conftest import CountingAdapter, is_write, tagged_event_counts, wrap_session
from tests.records_helpers import items
from tests.test_run_e2e import ORGANIZER, make_world
from worker.cli.demo import DemoWorld
from worker.cli.main import run_command
from worker.core.exit_codes import ExitCode
from worker.core.properties import NUDGES_PROPERTY_ID

Change = Callable[[requests.PreparedRequest, requests.Response], tuple[int, dict[str, str],
                                                                       bytes]]
LISTING = re.compile(r"/v1\.0/users/[^/]+/events$")
FIRST_SESSIONS = 20  # 10 pairs x keep_booked 2


class Corrupt(BaseAdapter):
    """Hands the worker the answers to matching requests changed by `change`, at most
    `times` times; remembers the host of every request sent."""

    def __init__(self, inner: BaseAdapter, match: Callable[[requests.PreparedRequest], bool],
                 change: Change, times: int = 1000) -> None:
        super().__init__()
        self.inner, self.match, self.change, self.left = inner, match, change, times
        self.hosts: list[str] = []
        self.hits = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.hosts.append(urlsplit(request.url or "").hostname or "")
        response = self.inner.send(request, **kwargs)
        if self.left <= 0 or not self.match(request):
            return response
        self.left -= 1
        self.hits += 1
        status, headers, body = self.change(request, response)
        changed = requests.Response()
        changed.status_code = status
        changed.headers = CaseInsensitiveDict({**headers, "Content-Length": str(len(body))})
        changed._content = body
        changed._content_consumed = True  # type: ignore[attr-defined]
        changed.raw = BytesIO(body)
        changed.request = request
        changed.url = request.url or ""
        return changed

    def close(self) -> None:
        self.inner.close()


def listing(request: requests.PreparedRequest) -> bool:
    """The paged listing of the program's events in the organizer mailbox."""
    path = urlsplit(request.url or "").path
    return request.method == "GET" and bool(LISTING.search(path))


def batch_of(fragment: str) -> Callable[[requests.PreparedRequest], bool]:
    """A `$batch` whose inner requests' URLs contain `fragment`."""
    def match(request: requests.PreparedRequest) -> bool:
        if request.method != "POST" or not (request.url or "").endswith("/$batch"):
            return False
        body = json.loads(request.body or b"{}")
        return any(fragment in str(r.get("url", "")) for r in body.get("requests", []))
    return match


def raw_body(status: int, content_type: str, make: Callable[[bytes], bytes]) -> Change:
    def change(request: requests.PreparedRequest, response: requests.Response
               ) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": content_type}, make(response.content)
    return change


def json_body(edit: Callable[[Any], Any]) -> Change:
    def change(request: requests.PreparedRequest, response: requests.Response
               ) -> tuple[int, dict[str, str], bytes]:
        body = edit(json.loads(response.content))
        return response.status_code, {"Content-Type": "application/json"}, json.dumps(
            body).encode()
    return change


def on_first_event(edit: Callable[[dict[str, Any]], None]) -> Change:
    def first(body: dict[str, Any]) -> dict[str, Any]:
        edit(body["value"][0])
        return body
    return json_body(first)


def tag_of(event: dict[str, Any]) -> str:
    return next(str(p["value"]) for p in event["singleValueExtendedProperties"]
                if str(p["id"]).lower().endswith("mentoringsession"))


def first_run_world() -> DemoWorld:
    """The demo tenant after a clean first run: every pair's first two sessions booked."""
    world = make_world()
    world.run()
    assert sum(tagged_event_counts(world.sandbox, ORGANIZER).values()) == FIRST_SESSIONS
    return world


def writes_naming(counter: CountingAdapter, text: str) -> list[str]:
    """The write requests whose URL or body names `text` (a pairing's session keys)."""
    found = []
    for (method, url, _), body in zip(counter.calls, counter.bodies, strict=True):
        sent = body.decode() if isinstance(body, bytes) else str(body or "")
        if is_write(method, url, body) and (text in url or text in sent):
            found.append(f"{method} {url}")
    return found


def run(world: DemoWorld, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any] | None, str]:
    """`mentoring run --json` as the container job does: exit code, its JSON, the log."""
    caplog.clear()
    out = StringIO()
    with caplog.at_level(logging.INFO):
        code = run_command(world.client, world.config, world.clock, world.templates,
                           dry_run=False, force=False, as_json=True, out=out)
    text = caplog.text + capsys.readouterr().err
    assert "Traceback" not in text
    document = json.loads(out.getvalue()) if out.getvalue() else None
    return code, document, text


def assert_each_session_once_after_a_clean_run(world: DemoWorld, corrupt: Corrupt,
                                               caplog: pytest.LogCaptureFixture,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    corrupt.left = 0
    code, _, _ = run(world, caplog, capsys)
    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    assert len(counts) == FIRST_SESSIONS and set(counts.values()) == {1}, counts
    per_key = Counter(str(i.fields["SessionKey"]) for i in items(world))
    assert len(per_key) == FIRST_SESSIONS and set(per_key.values()) == {1}, per_key
    assert code in (ExitCode.OK, ExitCode.INCOMPLETE)  # the unlicensed mentor's install
    assert world.run().writes == 0


def stopped_without_writing(world: DemoWorld, corrupt: Corrupt,
                            caplog: pytest.LogCaptureFixture,
                            capsys: pytest.CaptureFixture[str]) -> str:
    """Runs with `corrupt` in place; the run must stop before writing, exit 3, and say so."""
    counter = wrap_session(world.client.session, CountingAdapter)
    code, document, log = run(world, caplog, capsys)
    assert corrupt.hits, "the corruption never met its request"
    assert code == ExitCode.OUTAGE and document is None
    assert counter.writes() == []
    return log


# -- the cases --------------------------------------------------------------------------


def test_an_html_page_answering_the_event_listing_stops_the_run_before_any_write(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = first_run_world()
    login_page = raw_body(200, "text/html", lambda _: b"<html><body>Sign in</body></html>")
    corrupt = wrap_session(world.client.session, lambda i: Corrupt(i, listing, login_page))
    log = stopped_without_writing(world, corrupt, caplog, capsys)
    assert "run stopped: Graph keeps failing: 200 MalformedResponse: the answer is text/html, " \
           "not JSON on GET /v1.0/users/mentoring@contoso.com/events" in log
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_json_under_the_wrong_content_type_is_refused_like_a_page_that_is_not_json(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = make_world()  # a first run looks every participant up
    relabelled = raw_body(200, "text/plain; charset=utf-8", lambda body: body)
    corrupt = wrap_session(world.client.session,
                           lambda i: Corrupt(i, batch_of("/users?"), relabelled))
    log = stopped_without_writing(world, corrupt, caplog, capsys)
    assert "MalformedResponse: the answer is text/plain, not JSON on POST /v1.0/$batch" in log
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_booking_answers_cut_off_mid_json_are_looked_up_and_nothing_is_booked_twice(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = make_world()

    def booking(request: requests.PreparedRequest) -> bool:
        return request.method == "POST" and bool(
            LISTING.search(urlsplit(request.url or "").path))

    cut = raw_body(201, "application/json", lambda body: body[: len(body) // 2])
    corrupt = wrap_session(world.client.session, lambda i: Corrupt(i, booking, cut))
    code, document, log = run(world, caplog, capsys)
    assert code in (ExitCode.OK, ExitCode.INCOMPLETE) and document is not None
    assert corrupt.hits == FIRST_SESSIONS
    # Graph booked each (only the answer was unreadable): found by its tag, not sent again.
    assert "MalformedResponse: the answer is not JSON" in log
    assert "looking it up before trying again" in log
    assert document["summary"]["booked"] == FIRST_SESSIONS
    assert set(tagged_event_counts(world.sandbox, ORGANIZER).values()) == {1}
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


@pytest.mark.parametrize(("edit", "why"), [
    (lambda e: e.update(start=1704067200), "`start` is not a dateTimeTimeZone"),
    (lambda e: e["start"].update(dateTime="tomorrow at ten"), "cannot be read as a UTC time"),
    (lambda e: e.update(attendees="ava@contoso.com"), "`attendees` is a string, not a list"),
    (lambda e: e.update(id=17), "its `id` is a number"),
    (lambda e: e.update(isCancelled="no"), "`isCancelled` is a string"),
    (lambda e: e["singleValueExtendedProperties"].append(
        {"id": NUDGES_PROPERTY_ID, "value": 7}), "its nudge ledger is a number, not text"),
], ids=["start-a-number", "start-unparsable", "attendees-a-string", "id-a-number",
        "is-cancelled-a-string", "ledger-a-number"])
def test_an_event_of_ours_with_a_field_of_the_wrong_type_holds_back_its_pairing_only(
    edit: Callable[[dict[str, Any]], None], why: str,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = first_run_world()
    # Read as missing, the broken event's session would be booked a second time.
    seen: dict[str, str] = {}

    def broken(event: dict[str, Any]) -> None:
        seen["key"] = tag_of(event)
        edit(event)

    corrupt = wrap_session(world.client.session,
                           lambda i: Corrupt(i, listing, on_first_event(broken)))
    counter = wrap_session(world.client.session, CountingAdapter)
    code, document, log = run(world, caplog, capsys)
    assert code == ExitCode.INCOMPLETE and document is not None
    pairing = seen["key"].split("/")[1]
    problems = [p["reason"] for p in document["summary"]["problems"] if p["pairing"] == pairing]
    assert any("its event cannot be read" in p and why in p for p in problems), problems
    assert writes_naming(counter, f"/{pairing}/") == []
    assert f"the event of session {seen['key']} cannot be read" in log
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_an_event_missing_its_start_is_named_and_never_booked_a_second_time(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = first_run_world()
    corrupt = wrap_session(world.client.session,
                           lambda i: Corrupt(i, listing, on_first_event(lambda e: e.pop("start"))))
    code, document, _ = run(world, caplog, capsys)
    assert code == ExitCode.INCOMPLETE and document is not None
    assert document["summary"]["booked"] == 0
    assert any("`start` is not a dateTimeTimeZone" in p["reason"]
               for p in document["summary"]["problems"])
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_an_event_missing_its_session_tag_fails_the_whole_listing(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = first_run_world()
    untagged = on_first_event(lambda e: e.pop("singleValueExtendedProperties"))
    corrupt = wrap_session(world.client.session, lambda i: Corrupt(i, listing, untagged))
    log = stopped_without_writing(world, corrupt, caplog, capsys)
    assert "MalformedResponse: event 0 of the listing: its singleValueExtendedProperties is " \
           "missing, not a list on GET /v1.0/users/mentoring@contoso.com/events" in log
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_batch_answers_missing_their_ids_defer_the_lookups_and_book_nobody(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = make_world()

    def no_ids(body: dict[str, Any]) -> dict[str, Any]:
        for answer in body["responses"]:
            answer.pop("id")
        return body

    corrupt = wrap_session(world.client.session, lambda i: Corrupt(
        i, batch_of("/users?"), json_body(no_ids)))
    code, document, _ = run(world, caplog, capsys)
    assert code == ExitCode.INCOMPLETE and document is not None
    assert document["summary"]["booked"] == 0
    reasons = [p["reason"] for p in document["summary"]["problems"]]
    assert len(reasons) == 2 * len(world.config.pairings)  # each mentor and mentee
    assert all("could not look up" in r and "MissingBatchResponse" in r
               for r in reasons), reasons
    assert "does not exist" not in json.dumps(document)
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_a_schedule_view_with_letters_is_that_persons_named_error(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = make_world()
    victim: dict[str, str] = {}

    def letters(body: dict[str, Any]) -> dict[str, Any]:
        schedule = body["value"][0]
        victim.setdefault("email", str(schedule["scheduleId"]).lower())
        if str(schedule["scheduleId"]).lower() == victim["email"]:
            schedule["availabilityView"] = "00ab22"
            schedule["scheduleItems"] = None
        return body

    def schedule(request: requests.PreparedRequest) -> bool:
        return (request.url or "").endswith("/calendar/getSchedule")

    corrupt = wrap_session(world.client.session,
                           lambda i: Corrupt(i, schedule, json_body(letters)))
    code, document, _ = run(world, caplog, capsys)
    assert code == ExitCode.INCOMPLETE and document is not None
    theirs = [p for p in world.config.pairings
              if victim["email"] in (p.mentor.lower(), p.mentee.lower())]
    assert theirs
    assert document["summary"]["booked"] == FIRST_SESSIONS - 2 * len(theirs)
    problems = " ".join(p["reason"] for p in document["summary"]["problems"])
    assert "MalformedSchedule" in problems or "scheduleItems is not a list" in problems, problems
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_list_items_whose_fields_are_no_object_are_named_and_never_created_twice(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = make_world()

    def unreadable_item(body: dict[str, Any]) -> dict[str, Any]:
        # Each session key's lookup finds "an item" whose fields cannot be read: it may be
        # the session's own, so no second one may be created beside it.
        for answer in body["responses"]:
            answer["body"]["value"].append({"id": "7", "fields": "SessionKey=?"})
        return body

    corrupt = wrap_session(world.client.session, lambda i: Corrupt(
        i, batch_of("/items?"), json_body(unreadable_item)))
    code, document, _ = run(world, caplog, capsys)
    assert corrupt.hits
    assert code == ExitCode.INCOMPLETE and document is not None
    assert document["summary"]["booked"] == FIRST_SESSIONS
    assert items(world) == []
    reasons = [p["reason"] for p in document["summary"]["problems"]]
    assert sum("an item found for it cannot be read: its `fields` is not an object" in r
               for r in reasons) == FIRST_SESSIONS, reasons
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_a_page_over_the_size_bound_stops_the_run_before_any_write(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = first_run_world()
    world.client.max_response_bytes = 256 * 1024  # a real bound is 16 MiB; same code path

    def padded(body: dict[str, Any]) -> dict[str, Any]:
        body["value"][0]["bodyPreview"] = "x" * (300 * 1024)
        return body

    corrupt = wrap_session(world.client.session, lambda i: Corrupt(i, listing, json_body(padded)))
    log = stopped_without_writing(world, corrupt, caplog, capsys)
    assert "OversizedResponse: the answer is over 262144 bytes; not read further on GET " \
           "/v1.0/users/mentoring@contoso.com/events" in log
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_a_next_link_loop_stops_the_run_before_any_write(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = first_run_world()

    def loop(request: requests.PreparedRequest, response: requests.Response
             ) -> tuple[int, dict[str, str], bytes]:
        body = json.loads(response.content)
        body["@odata.nextLink"] = request.url  # "the next page" is this one again
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    corrupt = wrap_session(world.client.session, lambda i: Corrupt(i, listing, loop))
    log = stopped_without_writing(world, corrupt, caplog, capsys)
    assert "BrokenPaging: the nextLink of page 1 repeats a page already read (a paging loop) " \
           "on GET /v1.0/users/mentoring@contoso.com/events" in log
    assert corrupt.hits == 1  # the page was asked for once
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)


def test_a_next_link_to_another_host_is_never_followed(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    world = first_run_world()
    elsewhere = json_body(lambda body: {
        **body, "@odata.nextLink": "https://graph.microsoft.com.example.net/v1.0/users/x/events"})
    corrupt = wrap_session(world.client.session, lambda i: Corrupt(i, listing, elsewhere))
    log = stopped_without_writing(world, corrupt, caplog, capsys)
    assert "leads to https://graph.microsoft.com.example.net, not to Graph" in log
    assert "graph.microsoft.com.example.net" not in corrupt.hosts
    assert_each_session_once_after_a_clean_run(world, corrupt, caplog, capsys)
