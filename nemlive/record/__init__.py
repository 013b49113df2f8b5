"""Recording: the MQTT stream -> the history store (``recorder.py``).

* ``recording``: raw messages -> validated readings and reject counts (pure; the wire schema is
  ``nemlive.common.events``).
* ``subscriber``: the recorder's MQTT 5 session with manual acknowledgements: a message is
  acknowledged only once its batch is committed.
* ``writer``: the one writer (``Recorder``): batches from the inbox, committed, then
  acknowledged; the store's retries, the prune and the checkpoints.
"""

from nemlive.record.recording import (
    ADMIT_ALL,
    Admission,
    Inbound,
    UnknownIds,
    convert_messages,
    describe_rejects,
)
from nemlive.record.subscriber import Inbox, Subscriber

__all__ = [
    "ADMIT_ALL",
    "Admission",
    "Inbound",
    "Inbox",
    "Subscriber",
    "UnknownIds",
    "convert_messages",
    "describe_rejects",
]
