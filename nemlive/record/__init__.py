"""Recording: the MQTT stream -> the history store (``recorder.py``).

* ``recording``: raw messages -> validated readings and reject counts (pure; the wire schema is
  ``nemlive.common.events``).
* ``subscriber``: the recorder's MQTT 5 session with manual acknowledgements: a message is
  acknowledged only once its batch is committed.
* ``writer``: the one writer (``Recorder``): batches from the inbox, committed, then
  acknowledged; the store's retries, the prune and the checkpoints.
* ``cover``: recorders of a share group that take over a dead member's session, told who is
  down by PostgreSQL leases (``recorder.py --cover``).
"""

from nemlive.record.recording import (
    ADMIT_ALL,
    UNKNOWN_REASON,
    Admission,
    Converted,
    Inbound,
    UnknownIds,
    convert_messages,
    describe_rejects,
)
from nemlive.record.subscriber import INBOX_FULL, OVERSIZE, Inbox, Subscriber
from nemlive.record.writer import Recorder, log_stop, open_store_with_retry

__all__ = [
    "ADMIT_ALL",
    "INBOX_FULL",
    "OVERSIZE",
    "UNKNOWN_REASON",
    "Admission",
    "Converted",
    "Inbound",
    "Inbox",
    "Recorder",
    "Subscriber",
    "UnknownIds",
    "convert_messages",
    "describe_rejects",
    "log_stop",
    "open_store_with_retry",
]
