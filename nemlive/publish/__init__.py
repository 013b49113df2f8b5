"""Publishing: consolidate.csv -> MQTT messages, paced, acknowledged and resumable.

* ``replay``: the CSV as rows of ready-to-send messages, and the time shift of each pass (pure).
* ``pacing``: the replay loop's pieces: pacing, the message order and the periodic jobs.
* ``connection``: the publisher's acknowledged connection: backpressure, acknowledgements.
* ``checkpoint``: where a replay can resume.
* ``broker``: the embedded broker, for a machine without one.
"""

from nemlive.publish.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from nemlive.publish.connection import AckTracker, Connection
from nemlive.publish.replay import ReplayTable, RowEncoder, read_replay_table

__all__ = [
    "AckTracker",
    "Checkpoint",
    "Connection",
    "ReplayTable",
    "RowEncoder",
    "read_checkpoint",
    "read_replay_table",
    "write_checkpoint",
]
