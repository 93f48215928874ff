"""The nudge policy with an executive's assistant: plain values in, who is nudged out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.test_nudges_policy import (
    DEFAULT,
    KEY,
    MENTEE,
    MENTOR,
    START,
    hours,
    kinds,
    session,
)
from worker.config import Config
from worker.core.intervals import Interval
from worker.observe.state import ACCEPTED, DECLINED, NONE, AttendeeState, ObservedSession
from worker.plan.nudges import Decision, NudgeKind, Offer, decide

ASSISTANT = "olivia.grant@contoso.com"
# Wed 6 Jan, 15:00 UTC: 10:00 in New York, 50 hours after the invitation went out.
LATER = datetime(2027, 1, 6, 15, 0, tzinfo=UTC)


def assisted() -> Config:
    pairings = [p.model_copy(update={"assistant": ASSISTANT}) if p.id == "ceo-ava" else p
                for p in DEFAULT.pairings]
    return DEFAULT.model_copy(update={"pairings": pairings})


def with_assistant(base: ObservedSession, response: str = NONE) -> ObservedSession:
    return replace(base, attendees=(*base.attendees,
                                    AttendeeState(ASSISTANT, response, type="optional")))


def run(the_session: ObservedSession, now: datetime = LATER, *, cfg: Config | None = None,
        offers: dict[str, Offer] | None = None) -> Decision:
    people = {MENTOR: hours(), MENTEE: hours(), ASSISTANT: hours()}
    return decide(cfg or assisted(), {KEY: [the_session]}, people, {KEY: frozenset()}, {},
                  now, (), offers=offers)


def test_the_assistant_is_asked_while_the_executive_has_not_answered() -> None:
    decision = run(with_assistant(session(mentee=NONE), ACCEPTED))
    assert [k for k in kinds(decision.due) if k[0] == "invite-unanswered"] == [
        ("invite-unanswered", MENTEE), ("invite-unanswered", ASSISTANT)]
    [to_assistant] = [n for n in decision.due if n.recipient == ASSISTANT]
    assert to_assistant.role == "assistant" and to_assistant.other == MENTEE


def test_an_assistant_who_does_not_answer_makes_nobody_unanswered() -> None:
    decision = run(with_assistant(session(), NONE))
    assert not [k for k in kinds(decision.due) if k[0] == "invite-unanswered"]


def test_without_an_assistant_configured_nobody_else_is_asked() -> None:
    decision = run(session(mentee=NONE), cfg=DEFAULT)
    assert [k for k in kinds(decision.due) if k[0] == "invite-unanswered"] == [
        ("invite-unanswered", MENTEE)]


def test_a_decline_by_the_assistant_is_announced_to_the_mentor_only() -> None:
    decision = run(with_assistant(session(), DECLINED))
    assert kinds(decision.due) == [("session-rescheduled", MENTOR)]


def test_an_offer_goes_to_the_assistant_once_with_its_times() -> None:
    times = tuple(Interval(START + timedelta(days=d), START + timedelta(days=d, minutes=45))
                  for d in (1, 2, 3))
    declined = with_assistant(session(mentee=DECLINED))
    decision = run(declined, offers={KEY: Offer(declined, times)})
    [offer] = [n for n in decision.due if n.kind is NudgeKind.reschedule_limit]
    assert offer.recipient == ASSISTANT and offer.times == times
    sent = decide(assisted(), {KEY: [declined]}, {ASSISTANT: hours()},
                  {KEY: frozenset({offer.key})}, {}, LATER, (),
                  offers={KEY: Offer(declined, times)})
    assert not [n for n in sent.due if n.kind is NudgeKind.reschedule_limit]
