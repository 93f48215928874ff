"""The fingerprints kept on events must never change their value: events booked by an earlier
release carry them, and a different digest would rewrite every invite of a program."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from worker.plan.booking import (
    TRANSACTION_NAMESPACE,
    _attendees,
    invite_digest,
    transaction_id,
)


def _reference_digest(parts: dict[str, Any], minutes: int) -> str:
    text = json.dumps({**parts, "minutes": minutes}, sort_keys=True, ensure_ascii=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _parts(content: str, subject: str, names: tuple[str, str]) -> dict[str, Any]:
    return {
        "subject": subject,
        "body": {"contentType": "html", "content": content},
        "attendees": _attendees("mentor@contoso.com", names[0], "exec@contoso.com", names[1]),
        "reminderMinutesBeforeStart": 15,
    }


@pytest.mark.parametrize(("content", "subject", "names"), [
    ("<p>Hello</p>", "Reverse mentoring 1/7: Getting started", ("Ana", "Bo")),
    ('<p>"quoted" \\ back\nslash \t tab</p>', "Ünïcödé — dash 2/7", ("Zoë Ñandú", "李 雷")),
    ("emoji 🎉 and \u2028 line separator", "a" * 300, ("", "O'Brien <x>")),
    ("", "", ("\x00\x1f", "\ud7ff")),
])
def test_the_invite_digest_is_the_canonical_json_digest(content: str, subject: str,
                                                        names: tuple[str, str]) -> None:
    parts = _parts(content, subject, names)
    assert invite_digest(parts, 60) == _reference_digest(parts, 60)
    assert invite_digest(parts, 45) == _reference_digest(parts, 45)
    # A mapping with other keys goes through the encoder, and is still the same digest.
    extra = {**parts, "location": {"displayName": "Room 1"}}
    assert invite_digest(extra, 60) == _reference_digest(extra, 60)
    assert invite_digest(extra, 60) != invite_digest(parts, 60)


def test_a_known_invite_keeps_the_fingerprints_earlier_releases_stored() -> None:
    parts = _parts("<p>Hello</p>", "Reverse mentoring 1/7: Getting started", ("Ana", "Bo"))
    assert invite_digest(parts, 60) == "4f0b033a00303a31"
    slot = (datetime(2027, 1, 5, 10, tzinfo=UTC), datetime(2027, 1, 5, 11, tzinfo=UTC))
    assert transaction_id("program:pair:1", *slot) == "d8b81c64-4712-5b8a-8fa9-f3bfff6d3e16"


def test_the_transaction_id_is_the_uuid5_of_key_and_slot() -> None:
    start = datetime(2027, 3, 28, 0, 45, tzinfo=ZoneInfo("Europe/London"))
    for k in range(200):
        s = start + timedelta(minutes=15 * k)
        e = s + timedelta(minutes=60 + k)
        key = f"program:pair-{k}:{k % 7 + 1}"
        slot = f"{s.astimezone(UTC).isoformat()}/{e.astimezone(UTC).isoformat()}"
        expected = str(uuid.uuid5(TRANSACTION_NAMESPACE, f"{key}@{slot}"))
        assert transaction_id(key, s, e) == expected
    assert uuid.UUID(transaction_id("k", start, start)).version == 5


def test_a_pair_without_an_assistant_keeps_its_fingerprint_and_one_with_gets_a_new_one() -> None:
    parts = _parts("<p>Hello</p>", "Reverse mentoring 1/7: Getting started", ("Ana", "Bo"))
    assert _attendees("mentor@contoso.com", "Ana", "exec@contoso.com", "Bo", None, "") \
        == parts["attendees"]
    assert invite_digest(parts, 60) == "4f0b033a00303a31"
    assisted = {**parts, "attendees": _attendees("mentor@contoso.com", "Ana",
                                                  "exec@contoso.com", "Bo",
                                                  "assistant@contoso.com", "Cy")}
    assert assisted["attendees"][-1] == {
        "emailAddress": {"address": "assistant@contoso.com", "name": "Cy"}, "type": "optional"}
    assert invite_digest(assisted, 60) == _reference_digest(assisted, 60)
    assert invite_digest(assisted, 60) != "4f0b033a00303a31"
