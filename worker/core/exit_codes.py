"""The job's exit codes: what a scheduler alerts on. Defined once; the README lists the same.

- 0 `OK`: every action of the run is done (or there was nothing to do).
- 1 `INCOMPLETE`: some actions failed (permanent: each named with its reason) or were deferred
  (temporary: the next run tries again), or a pairing could not be planned (an unknown person,
  no free time); everything else was done.
- 2 `CONFIG`: the config, the settings, the credential or a permission is wrong, or the plan was
  refused as unsafe. Fix the deployment; a refused plan or a bad config writes nothing.
- 3 `OUTAGE`: Microsoft Graph or the identity platform could not be reached or kept failing.
  Nothing is lost: the next run starts from what Microsoft 365 holds.

`mentoring doctor` uses the same codes for its checks: 0 every check ok; 1 warnings only (a run
would go ahead and name what it cannot do, e.g. a participant without Teams); 2 a precondition
fails (fix it before the first run); 3 Graph or the identity platform did not answer.

When several apply, the larger code wins: an outage hides nothing that a retry would not
show, and a deployment problem is what an operator must fix before anything else.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INCOMPLETE = 1
    CONFIG = 2
    OUTAGE = 3


def worst(*codes: ExitCode) -> ExitCode:
    return max(codes, default=ExitCode.OK)
