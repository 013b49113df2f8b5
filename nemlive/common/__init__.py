"""What every NEM Live program shares.

* ``events``: the MQTT wire schema: topics, the Pydantic payload models, encoders, decoding.
* ``columns``: consolidate.csv column names and the code pattern.
* ``nemtime``: NEM time (UTC+10) and the range of timestamps the project accepts.
* ``lookups``: facilities, regions, fuel groups and colours (``context.py`` for the programs).
* ``mqttconfig``: MQTT settings, resolved from flags, then the environment, then defaults.
* ``mqttclient``: the one place a paho client is built and connected; one-line errors.
* ``retry``: the one retry policy (exponential backoff, stopped by an Event).
* ``errors``: the exception tree and its exit codes.
* ``atomicfile``, ``logsetup``: atomic file replacement, logging for the entry points.
"""

from nemlive.common.atomicfile import write_files_atomically
from nemlive.common.columns import is_valid_code
from nemlive.common.errors import (
    ApiError,
    BrokerError,
    ConfigError,
    InputError,
    NemLiveError,
    OutputError,
    StoreError,
    StoreUnavailable,
    TableCheckError,
)
from nemlive.common.events import (
    MAX_PAYLOAD_BYTES,
    FacilityEvent,
    InvalidEvent,
    MarketEvent,
    StatusEvent,
    decode_event,
)
from nemlive.common.logsetup import configure_logging
from nemlive.common.mqttconfig import (
    MqttSettings,
    add_mqtt_arguments,
    parse_bool,
    resolve_mqtt_arguments,
    resolve_mqtt_settings,
)
from nemlive.common.nemtime import last_nem_midnight, parse_naive

__all__ = [
    "MAX_PAYLOAD_BYTES",
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
    "StoreError",
    "StoreUnavailable",
    "TableCheckError",
    "add_mqtt_arguments",
    "configure_logging",
    "decode_event",
    "is_valid_code",
    "last_nem_midnight",
    "parse_bool",
    "parse_naive",
    "resolve_mqtt_arguments",
    "resolve_mqtt_settings",
    "write_files_atomically",
]
