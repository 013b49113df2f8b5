"""Publishing: consolidate.csv -> MQTT messages, paced, acknowledged and resumable.

* ``replay``: the CSV as rows of ready-to-send messages, and the time shift of each pass (pure).
* ``pacing``: the replay loop's pieces: pacing, the message order and the periodic jobs.
* ``connection``: the publisher's acknowledged connection: backpressure, acknowledgements.
* ``checkpoint``: where a replay can resume.
* ``broker``: the embedded broker, for a machine without one.
"""

from nemlive.publish.broker import (
    EMBEDDED_HOST,
    EmbeddedBroker,
    check_embedded_can_serve,
    is_listening,
)
from nemlive.publish.checkpoint import (
    Checkpoint,
    default_checkpoint_path,
    default_live_checkpoint_path,
    read_checkpoint,
    write_checkpoint,
)
from nemlive.publish.connection import AckTracker, Connection
from nemlive.publish.livefeed import FollowPlan, LivePublisher
from nemlive.publish.replayer import Replayer, ReplayPlan, resolve_start
from nemlive.publish.replaytable import ReplayTable, RowEncoder, read_replay_table

__all__ = [
    "EMBEDDED_HOST",
    "AckTracker",
    "Checkpoint",
    "Connection",
    "EmbeddedBroker",
    "FollowPlan",
    "LivePublisher",
    "ReplayPlan",
    "ReplayTable",
    "Replayer",
    "RowEncoder",
    "check_embedded_can_serve",
    "default_checkpoint_path",
    "default_live_checkpoint_path",
    "is_listening",
    "read_checkpoint",
    "read_replay_table",
    "resolve_start",
    "write_checkpoint",
]
