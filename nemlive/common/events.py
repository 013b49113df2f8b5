"""The wire schema between publisher.py and dashboard.py (docs/contracts.md §3).

Everything that touches an MQTT topic or payload lives here: topic builders and parsers,
the Pydantic models that validate incoming payloads, and the encoders the publisher uses.

Topics under one base topic (default ``nem/stream``):

* ``<base>/facility/<FACILITY>``: ``{"facility_id", "timestamp", "power_mw", "co2_tonnes"}``
* ``<base>/market/<REGION>``: ``{"region_id", "timestamp", "price_dmwh", "demand_mw"}``
* ``<base>/interchange/<REGION>``: ``{"region_id", "timestamp", "imports_mw", "exports_mw"}``
* ``<base>/status``: the publisher's state, ``online`` or ``offline`` (its last will).

All three are published with QoS 1 and retained.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from nemlive.common.columns import CODE_PATTERN
from nemlive.common.nemtime import INTERVAL_S, LATEST_EPOCH, NEM_START_EPOCH

DEFAULT_BASE_TOPIC = "nem/stream"
MAX_PAYLOAD_BYTES = 1024
QOS = 1

Region = Literal["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]
REGIONS: tuple[Region, ...] = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")

# The CSV's code pattern: OE-invented codes start with 0. Being strict here also keeps HTML
# and other markup out of the dashboard's tooltips.
FACILITY_ID_PATTERN = CODE_PATTERN
FacilityId = Annotated[str, StringConstraints(pattern=FACILITY_ID_PATTERN)]

# Plausible physical bounds; anything outside is a corrupt or hostile message.
POWER_MW_BOUNDS = (-5_000.0, 5_000.0)
CO2_T_BOUNDS = (0.0, 1_000.0)  # t CO2-e in one 5-minute interval
PRICE_BOUNDS = (-1_000.0, 25_000.0)  # $/MWh; the NEM floor and cap sit inside
DEMAND_MW_BOUNDS = (-1_000.0, 20_000.0)
FLOW_MW_BOUNDS = (0.0, 20_000.0)  # MW into or out of a region over its interconnectors


def _bounded(lo: float, hi: float) -> object:
    return Field(default=..., ge=lo, le=hi, allow_inf_nan=False)


class _Strict(BaseModel):
    # extra="forbid": the payload keys are exactly the contract's, no more and no fewer.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FacilityEvent(_Strict):
    """Power and emissions of one facility in one 5-minute interval (interval-ending time)."""

    facility_id: FacilityId
    timestamp: AwareDatetime
    power_mw: float | None = _bounded(*POWER_MW_BOUNDS)  # type: ignore[assignment]
    co2_tonnes: float | None = _bounded(*CO2_T_BOUNDS)  # type: ignore[assignment]


class MarketEvent(_Strict):
    """Price ($/MWh) and demand (MW) of one NEM region in one 5-minute interval."""

    region_id: Region
    timestamp: AwareDatetime
    price_dmwh: float | None = _bounded(*PRICE_BOUNDS)  # type: ignore[assignment]
    demand_mw: float | None = _bounded(*DEMAND_MW_BOUNDS)  # type: ignore[assignment]


class InterchangeEvent(_Strict):
    """MW flowing into (``imports_mw``) and out of (``exports_mw``) one NEM region over its
    interconnectors in one 5-minute interval; the net import is their difference."""

    region_id: Region
    timestamp: AwareDatetime
    imports_mw: float | None = _bounded(*FLOW_MW_BOUNDS)  # type: ignore[assignment]
    exports_mw: float | None = _bounded(*FLOW_MW_BOUNDS)  # type: ignore[assignment]


class StatusEvent(_Strict):
    """The publisher's retained status; ``offline`` is also its MQTT last will.

    ``live`` is a publisher following a cache that an extractor keeps current:
    ``market_to``/``facilities_to`` are the newest market and facility intervals it has sent
    (facility data arrives later than market data), ``source`` where the cache came from
    (``nemweb``: AEMO's NEMweb reports, with OE's facility list) and ``simulated`` true when
    that source is a simulator on the publisher's machine (the simulator's NEMweb face).
    """

    state: Literal["online", "offline", "cooldown", "done", "live"]
    client_id: str = Field(default="", max_length=128)
    pass_number: int = Field(default=0, ge=0)
    position: str | None = Field(default=None, max_length=64)
    row: int = Field(default=0, ge=0)
    rows: int = Field(default=0, ge=0)
    sent: int = Field(default=0, ge=0)
    market_to: str | None = Field(default=None, max_length=64)
    facilities_to: str | None = Field(default=None, max_length=64)
    source: Literal["openelectricity", "simulator", "nemweb"] | None = None
    simulated: bool | None = None


LIVE_STATUS_KEYS = ("market_to", "facilities_to", "source", "simulated")

Event = FacilityEvent | MarketEvent | InterchangeEvent | StatusEvent
TopicKind = Literal["facility", "market", "interchange", "status"]
DataKind = Literal["facility", "market", "interchange"]


class InvalidEvent(ValueError):
    """A message that does not follow the wire schema. ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# --- topics ---------------------------------------------------------------------------


def build_facility_topic(base: str, facility_id: str) -> str:
    return f"{base}/facility/{facility_id}"


def build_market_topic(base: str, region_id: str) -> str:
    return f"{base}/market/{region_id}"


def build_interchange_topic(base: str, region_id: str) -> str:
    return f"{base}/interchange/{region_id}"


def build_status_topic(base: str) -> str:
    return f"{base}/status"


def build_subscription(base: str) -> str:
    """The one wildcard subscription that receives every topic of the stream."""
    return f"{base}/#"


# A share name is one topic level, without wildcards (MQTT 5 §4.8.2).
SHARE_GROUP_MAX = 64
_SHARE_FORBIDDEN = frozenset("/+#")


def check_share_group(group: str) -> str:
    """``group`` as a share name (stripped); ValueError saying why it cannot be one.

    MQTT 5 forbids ``/``, ``+`` and ``#`` in a share name; control characters and over
    ``SHARE_GROUP_MAX`` characters are refused too, as no operator means them.
    """
    name = group.strip()
    if not name:
        raise ValueError("a share group needs a name")
    if len(name) > SHARE_GROUP_MAX:
        raise ValueError(f"a share group name is at most {SHARE_GROUP_MAX} characters")
    if any(ch in _SHARE_FORBIDDEN or not ch.isprintable() for ch in name):
        raise ValueError("a share group name has no '/', '+', '#' or control characters")
    return name


def build_shared_subscription(base: str, group: str) -> str:
    """The stream's subscription shared by ``group``: the broker gives each message of
    ``<base>/#`` to one member of the group (MQTT 5 shared subscription)."""
    return f"$share/{check_share_group(group)}/{build_subscription(base)}"


# A stream has a few hundred topics, each seen thousands of times: remember the split ones.
# Bad topics raise, and lru_cache does not keep exceptions, so hostile topics cannot fill it.
@lru_cache(maxsize=4096)
def parse_topic(base: str, topic: str) -> tuple[TopicKind, str]:
    """Split ``<base>/<kind>/<id>`` into ``(kind, id)``; raise InvalidEvent("topic") otherwise."""
    prefix = base + "/"
    if not topic.startswith(prefix):
        raise InvalidEvent("topic", "outside the base topic")
    rest = topic[len(prefix) :]
    if rest == "status":
        return "status", ""
    kind, _, ident = rest.partition("/")
    if kind in ("facility", "market", "interchange") and ident and "/" not in ident:
        return kind, ident  # type: ignore[return-value]
    raise InvalidEvent("topic", "unknown topic")


# --- encoding (publisher side) --------------------------------------------------------


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _dumps(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def encode_facility_event(
    facility_id: str, timestamp: str, power_mw: float | None, co2_tonnes: float | None
) -> bytes:
    """Compact JSON with the contract's keys in order; NaN becomes null."""
    return _dumps(
        {
            "facility_id": facility_id,
            "timestamp": timestamp,
            "power_mw": _num(power_mw),
            "co2_tonnes": _num(co2_tonnes),
        }
    )


def encode_market_event(
    region_id: str, timestamp: str, price_dmwh: float | None, demand_mw: float | None
) -> bytes:
    return _dumps(
        {
            "region_id": region_id,
            "timestamp": timestamp,
            "price_dmwh": _num(price_dmwh),
            "demand_mw": _num(demand_mw),
        }
    )


# Each data payload's keys in order: the id, then its two values.
PAYLOAD_KEYS: dict[DataKind, tuple[str, str, str]] = {
    "facility": ("facility_id", "power_mw", "co2_tonnes"),
    "market": ("region_id", "price_dmwh", "demand_mw"),
    "interchange": ("region_id", "imports_mw", "exports_mw"),
}


class PayloadTemplate:
    """A fast encoder for one facility or region, byte-identical to ``encode_*_event``.

    The publisher sends ~850,000 messages per week of data; ``json.dumps`` per message costs
    several times more than this template. ``(id, timestamp, a, b)`` -> the same bytes as
    ``encode_facility_event`` (``kind="facility"``) or ``encode_market_event``. A float is
    written with ``repr`` (as ``json`` does), NaN and None as ``null``. The caller must pass
    finite floats and a timestamp without ``"`` or ``\\`` (the CSV reader checks both).
    """

    __slots__ = ("_middle", "_prefix", "_suffix")

    def __init__(self, kind: DataKind, ident: str) -> None:
        id_key, a_key, b_key = PAYLOAD_KEYS[kind]
        self._prefix = f'{{"{id_key}":{json.dumps(ident)},"timestamp":"'
        self._middle = f'","{a_key}":'
        self._suffix = f',"{b_key}":'

    def encode(self, timestamp: str, a: float | None, b: float | None) -> bytes:
        a_text = "null" if a is None or a != a else repr(a)  # a != a: NaN
        b_text = "null" if b is None or b != b else repr(b)
        return f"{self._prefix}{timestamp}{self._middle}{a_text}{self._suffix}{b_text}}}".encode()


def encode_interchange_event(
    region_id: str, timestamp: str, imports_mw: float | None, exports_mw: float | None
) -> bytes:
    return _dumps(
        {
            "region_id": region_id,
            "timestamp": timestamp,
            "imports_mw": _num(imports_mw),
            "exports_mw": _num(exports_mw),
        }
    )


def encode_status(status: StatusEvent) -> bytes:
    # The live keys only when set: a replay's status stays as it always was.
    unset = {k for k in LIVE_STATUS_KEYS if getattr(status, k) is None}
    return status.model_dump_json(exclude=unset).encode()


# --- decoding (dashboard side) --------------------------------------------------------


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "payload"
    kind = err.get("type", "invalid")
    if kind == "extra_forbidden":
        return "extra_key", where
    if kind == "missing":
        return "missing_key", where
    if kind in ("finite_number",):
        return "not_finite", where
    if kind in ("greater_than_equal", "less_than_equal"):
        return "out_of_range", where
    if kind == "timezone_aware":
        return "naive_timestamp", where
    if kind == "json_invalid":
        return "bad_json", ""
    if kind in ("model_type", "dict_type"):
        return "not_an_object", ""
    return "bad_type", f"{where} ({kind})"


_VALIDATORS = {
    "facility": FacilityEvent.__pydantic_validator__,
    "market": MarketEvent.__pydantic_validator__,
    "interchange": InterchangeEvent.__pydantic_validator__,
    "status": StatusEvent.__pydantic_validator__,
}


def decode_event(base: str, topic: str, payload: bytes) -> Event:
    """Validate one MQTT message against the wire schema.

    Returns a FacilityEvent, MarketEvent or StatusEvent. Raises InvalidEvent with a short
    ``reason`` (oversize, topic, bad_json, not_an_object, missing_key, extra_key, bad_type,
    not_finite, out_of_range, naive_timestamp, off_grid, before_nem, too_late, id_mismatch)
    that the dashboard counts. See :func:`check_interval_time` for the timestamp rules.
    """
    return decode_event_at(base, topic, payload)[0]


def decode_event_at(base: str, topic: str, payload: bytes) -> tuple[Event, int | None]:
    """:func:`decode_event`, with the event's interval end in epoch seconds (None for a
    status event): the check computed it, so a consumer that needs it does not again."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidEvent("oversize", f"{len(payload)} bytes")
    kind, ident = parse_topic(base, topic)
    try:
        # The validator itself: model_validate_json adds a wrapper call per message.
        event = _VALIDATORS[kind].validate_json(payload)
    except ValidationError as exc:
        raise InvalidEvent(*_first_error(exc)) from None
    if kind == "facility":
        if event.facility_id != ident:  # type: ignore[union-attr]
            raise InvalidEvent("id_mismatch", "facility_id differs from the topic")
        return event, check_interval_time(event.timestamp)  # type: ignore[union-attr, return-value]
    if kind in ("market", "interchange"):
        if event.region_id != ident:  # type: ignore[union-attr]
            raise InvalidEvent("id_mismatch", "region_id differs from the topic")
        return event, check_interval_time(event.timestamp)  # type: ignore[union-attr, return-value]
    return event, None  # type: ignore[return-value]


def check_interval_time(ts: datetime) -> int:
    """The epoch seconds of an interval-ending timestamp that a real stream can carry.

    Raises InvalidEvent ``off_grid`` (not a whole 5-minute mark: a NEM interval ends on one,
    whatever the offset it is written with), ``before_nem`` (before the NEM began trading,
    1998-12-13) or ``too_late`` (2200 or later: past what the page can show with margin; see
    ``nemlive.common.nemtime``). How far ahead of the newest data a live event may be is the live
    state's rule, because it depends on that data.
    """
    epoch = ts.timestamp()
    if epoch < NEM_START_EPOCH:
        raise InvalidEvent("before_nem", "timestamp before 1998-12-13")
    if epoch >= LATEST_EPOCH:
        raise InvalidEvent("too_late", "timestamp in 2200 or later")
    if epoch % INTERVAL_S or ts.microsecond:
        raise InvalidEvent("off_grid", "timestamp not on a 5-minute mark")
    return int(epoch)


def format_timestamp(ts: datetime) -> str:
    """ISO 8601 with offset and no fractions, as the OE API writes it."""
    return ts.isoformat(timespec="seconds")


# --- alerts (alerts.py, docs/alerts.md) -------------------------------------------------
#
# ``<base>/alert/<rule>/<subject>``, QoS 1, retained while firing. Not part of decode_event:
# the alerter reads its own topics with decode_alert, the other consumers leave them alone.

AlertState = Literal["firing", "resolved"]
ALERT_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"  # rule names and subjects
# ``<base>/alert/.sync/<client id>``: the alerter's own marker (outlet.py), no alert. A rule
# name cannot start with a dot, so no rule's topic is ever taken for it.
ALERT_SYNC = ".sync"


class AlertEvent(_Strict):
    """One alert's state change: ``since`` the interval it fired, ``at`` this message's."""

    rule: Annotated[str, StringConstraints(pattern=ALERT_NAME_PATTERN)]
    kind: str = Field(max_length=64)
    subject: Annotated[str, StringConstraints(pattern=ALERT_NAME_PATTERN)]
    state: AlertState
    since: AwareDatetime
    at: AwareDatetime
    value: float | None = Field(default=..., allow_inf_nan=False)
    threshold: float = Field(allow_inf_nan=False)


def build_alert_topic(base: str, rule: str, subject: str) -> str:
    return f"{base}/alert/{rule}/{subject}"


def build_alert_subscription(base: str) -> str:
    """Every alert topic under ``base``."""
    return f"{base}/alert/#"


def is_alert_topic(base: str, topic: str) -> bool:
    return topic.startswith(f"{base}/alert/")


def parse_alert_topic(base: str, topic: str) -> tuple[str, str]:
    """``<base>/alert/<rule>/<subject>`` -> ``(rule, subject)``; InvalidEvent("topic") else."""
    prefix = f"{base}/alert/"
    if not topic.startswith(prefix):
        raise InvalidEvent("topic", "not an alert topic")
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 2 or not all(parts):
        raise InvalidEvent("topic", "an alert topic is <base>/alert/<rule>/<subject>")
    return parts[0], parts[1]


def encode_alert(alert: AlertEvent) -> bytes:
    """Compact JSON, the contract's keys in order, times as ISO 8601 with their offset."""
    return _dumps(
        {
            "rule": alert.rule,
            "kind": alert.kind,
            "subject": alert.subject,
            "state": alert.state,
            "since": format_timestamp(alert.since),
            "at": format_timestamp(alert.at),
            "value": _num(alert.value),
            "threshold": alert.threshold,
        }
    )


def decode_alert(base: str, topic: str, payload: bytes) -> AlertEvent | None:
    """An alert message, or None for an empty payload (a cleared retained alert) and for the
    alerter's marker on ``<base>/alert/.sync/...`` (not an alert: nobody counts it).

    Raises InvalidEvent as decode_event does; ``id_mismatch`` when the payload's rule or
    subject is not the topic's.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidEvent("oversize", f"{len(payload)} bytes")
    rule, subject = parse_alert_topic(base, topic)
    if not payload or rule == ALERT_SYNC:
        return None
    try:
        alert = AlertEvent.model_validate_json(payload)
    except ValidationError as exc:
        raise InvalidEvent(*_first_error(exc)) from None
    if (alert.rule, alert.subject) != (rule, subject):
        raise InvalidEvent("id_mismatch", "rule or subject differs from the topic")
    return alert
