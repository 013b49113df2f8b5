"""Recording: the MQTT stream -> the history store (``recorder.py``).

* ``recording``: raw messages -> validated readings and reject counts (pure; the wire schema is
  ``nemlive.common.events``).
* ``recorderlink``: the recorder's MQTT 5 session with manual acknowledgements: a message is
  acknowledged only once its batch is committed.
"""

from nemlive.record.recorderlink import INBOX_FULL, OVERSIZE, Inbox, Subscriber
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

__all__ = [
    "ADMIT_ALL",
    "INBOX_FULL",
    "OVERSIZE",
    "UNKNOWN_REASON",
    "Admission",
    "Converted",
    "Inbound",
    "Inbox",
    "Subscriber",
    "UnknownIds",
    "convert_messages",
    "describe_rejects",
]
