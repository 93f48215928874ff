"""The extended properties the worker keeps on each session's event: where its state lives.

All state lives in Microsoft 365, not on the container: the observer reads these, the planner
writes their new values into actions, apply sends them.
"""

from __future__ import annotations

# Our single-value extended property: a GUID of our own and the name from DESIGN.md. Every event
# the worker creates carries it; nothing without it is ever changed (invariant 3).
PROPERTY_SET = "{5f6b1c84-3a5e-4f0e-9a57-6d1f0e3c2b19}"
PROPERTY_ID = f"String {PROPERTY_SET} Name MentoringSession"
# The same property set, a second name: which list item holds the session's record and a digest
# of what was last written there (see `worker.plan.notes`).
RECORD_PROPERTY_ID = f"String {PROPERTY_SET} Name MentoringRecord"
# A third name: the nudge ledger, the keys of the nudges sent for the session (and markers such
# as "the Teams app is installed for this person"), one per line.
NUDGES_PROPERTY_ID = f"String {PROPERTY_SET} Name MentoringNudges"
# A fourth: a digest of the invite as the worker last wrote it (subject, body, length,
# attendees), so an edit of the config or the templates shows as an update of the upcoming
# events without reading their bodies back.
INVITE_PROPERTY_ID = f"String {PROPERTY_SET} Name MentoringInvite"
