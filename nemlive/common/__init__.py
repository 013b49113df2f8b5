"""What every NEM Live program shares.

* ``events``: the MQTT wire schema: topics, the Pydantic payload models, encoders, decoding.
* ``columns``: consolidate.csv column names and the code pattern.
* ``nemtime``: NEM time (UTC+10) and the range of timestamps the project accepts.
* ``lookups``: facilities, regions, fuel groups and colours (``context.py`` for the programs).
* ``mqttconfig``: MQTT settings, resolved from flags, then the environment, then defaults.
* ``errors``: the exception tree and its exit codes.
* ``atomicfile``, ``logsetup``: atomic file replacement, logging for the entry points.
"""

from nemlive.common.errors import (
    ApiError,
    BrokerError,
    ConfigError,
    InputError,
    NemLiveError,
    OutputError,
    TableCheckError,
)
from nemlive.common.events import (
    FacilityEvent,
    InvalidEvent,
    MarketEvent,
    StatusEvent,
    decode_event,
)
from nemlive.common.mqttconfig import MqttSettings, resolve_mqtt_settings

__all__ = [
    "ApiError",
    "BrokerError",
    "ConfigError",
    "FacilityEvent",
    "InputError",
    "InvalidEvent",
    "MarketEvent",
    "MqttSettings",
    "NemLiveError",
    "OutputError",
    "StatusEvent",
    "TableCheckError",
    "decode_event",
    "resolve_mqtt_settings",
]
