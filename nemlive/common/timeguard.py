"""How far ahead of the wall clock an interval may be: one rule for every consumer.

A NEM interval is published once it has ended, so a real stream never carries a timestamp
ahead of the present. Anyone who can publish on the topic can, though: one well-formed event
stamped in 2199 would otherwise become the "newest" reading, and everything measured back from
the newest (the recorder's retention, the dashboard's 24-hour window, the store's backfill and
the History menu) would move with it. So the recorder, the dashboard's live state (retained
messages included) and every read of the store treat an interval ending more than
``FUTURE_MARGIN_S`` after this machine's clock as ``future``: rejected, counted by that reason.

The margin allows for clocks that disagree by a few minutes. A machine whose clock runs more
than that behind rejects a live stream as ``future`` (the count says so: set the clock, e.g.
with NTP). A replay that loops ahead of the clock starts again from its file's own times
(``nemlive.publish``), so ``make run`` keeps working however long it runs.

Times are epoch seconds (UTC); ``now`` is always passed in, so tests move it at will.
"""

from __future__ import annotations

FUTURE_MARGIN_S = 15 * 60
FUTURE_REASON = "future"


def latest_allowed(now: float) -> int:
    """The newest interval end (epoch s) accepted at wall time ``now``."""
    return int(now) + FUTURE_MARGIN_S


def is_future(ts: float, now: float) -> bool:
    """True when the interval ending at ``ts`` is more than the margin ahead of ``now``."""
    return ts > latest_allowed(now)


# Retention counts back from the newest reading at or before ``latest_allowed(now)``
# (``Store.prune``): neither a forged future reading nor one left from before this rule can
# make a prune delete the real history, and an old replayed week is measured from its own
# newest reading.
