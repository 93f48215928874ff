"""Mail actions through Graph: the period's digest, remembered in its ledger.

In three steps, so a crash doubles at most one mail: the pending marker (`digest/<p>#pending`)
is written to the anchor event's ledger, the mail is sent, then the digest's key
(`digest/<p>`) is recorded. A run killed between the send and the record leaves the pending
marker without the key: the next run sends the digest once more and says so in its plan
("again"). A pending marker that cannot be written sends nothing (deferred to the next run);
a send whose answer is lost is the same doubt as a crash: sent again by the next run.
"""

from __future__ import annotations

import logging

from graph import mail
from graph.errors import AnswerLost, GraphClientError
from worker.apply.context import Context
from worker.apply.outcome import Outcome, stop_for
from worker.apply.teams import remember
from worker.plan.actions import SendDigest

log = logging.getLogger(__name__)


def apply_mail(ctx: Context, action: SendDigest) -> Outcome:
    remember(ctx, action.ledger, action.pending)
    try:
        mail.send_mail(ctx.client, action.sender, action.message)
    except AnswerLost as exc:
        # Graph may have taken it; Mail.Send can read nothing back to tell. Not sent again
        # in this run: the next one does, at most once more.
        return Outcome.deferred(action, f"no answer from Graph ({exc.reason}): the digest may "
                                        "have gone out; the next run sends it again")
    log.info("digest %s sent to %d admin(s)", action.key, len(action.recipients))
    try:
        remember(ctx, action.ledger, action.key)
    except GraphClientError as exc:
        stop = stop_for(exc)
        if stop is not None:
            ctx.stop(stop)
        return Outcome.failed(action, f"sent, but not recorded ({exc}); the next run may "
                                      "send it once more")
    return Outcome.done(action)


__all__ = ["apply_mail"]
