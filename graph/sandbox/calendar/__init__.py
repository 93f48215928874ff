"""Outlook calendars of the sandbox tenant: events, invitations, responses, free/busy.

The worker's whole booking loop runs against these routes, so they behave the way Exchange
Online does where the worker can observe it: an invitation lands in each attendee's own
calendar, their answers show up in the organizer's `attendees[].status`, moving a meeting
resets those answers, cancelling marks the attendees' copies cancelled, free/busy is computed
from the events themselves, and malformed requests fail with Graph's codes.

Graph references (application permissions throughout):
* create: https://learn.microsoft.com/en-us/graph/api/user-post-events
  (`transactionId`: https://learn.microsoft.com/en-us/graph/api/resources/event)
* list: https://learn.microsoft.com/en-us/graph/api/user-list-events (10 per page by default:
  https://learn.microsoft.com/en-us/answers/a/1488109; paging: https://learn.microsoft.com/en-us/graph/paging)
* get / update / delete: https://learn.microsoft.com/en-us/graph/api/event-get,
  .../event-update, .../event-delete
* cancel: https://learn.microsoft.com/en-us/graph/api/event-cancel (an attendee gets 400 "Your
  request can't be completed. You need to be an organizer to cancel a meeting.")
* accept / decline / tentativelyAccept: https://learn.microsoft.com/en-us/graph/api/event-accept,
  .../event-decline, .../event-tentativelyaccept (202 Accepted, `proposedNewTime`)
* calendarView: https://learn.microsoft.com/en-us/graph/api/user-list-calendarview; without the
  window: 400 ErrorInvalidParameter "This request requires a time window specified by the query
  string parameters StartDateTime and EndDateTime."
  (https://github.com/microsoftgraph/microsoft-graph-docs/issues/57)
* getSchedule: https://learn.microsoft.com/en-us/graph/api/calendar-getschedule
  (Calendars.ReadBasic < Calendars.Read < Calendars.ReadWrite; interval 5..1440, default 30)
* extended properties: https://learn.microsoft.com/en-us/graph/api/resources/extended-properties-overview;
  a malformed id is 400 ErrorInvalidProperty "PropertyId values may only be in one of the
  following formats: ..." (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/2784)
* `Prefer: outlook.timezone`: https://learn.microsoft.com/en-us/graph/api/resources/event
  ("Preference-Applied" echoes it); `Prefer: IdType="ImmutableId"`:
  https://learn.microsoft.com/en-us/graph/outlook-immutable-id (ids here never change anyway)
* Outlook's answer to a malformed `$filter`: 400 BadRequest "Invalid filter clause"
  (https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/3982)

The package is cut along what Exchange does: `store` (the stored calendars and shared
helpers), `events` (an organizer's events), `invitations` (the attendees' copies),
`responses` (attendees' answers), `schedule` (free/busy), `query` (rendering and listing
options) and `routes` (the Graph routes). The names other modules use are re-exported here.
"""

from graph.sandbox.calendar.events import cancel_meeting, new_event, update_event
from graph.sandbox.calendar.query import render
from graph.sandbox.calendar.responses import respond_to_invitation
from graph.sandbox.calendar.routes import register
from graph.sandbox.calendar.schedule import availability_view
from graph.sandbox.calendar.store import (
    MailStore,
    end_of,
    mailbox_id,
    parse_instant,
    start_of,
    store_of,
    user_zone,
)

__all__ = [
    "MailStore",
    "availability_view",
    "cancel_meeting",
    "end_of",
    "mailbox_id",
    "new_event",
    "parse_instant",
    "register",
    "render",
    "respond_to_invitation",
    "start_of",
    "store_of",
    "update_event",
    "user_zone",
]
