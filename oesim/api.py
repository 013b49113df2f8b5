"""The OE v4 API as a pure function: :func:`handle_api` maps (config, method, path, query,
headers) to a :class:`Response` (oe-api.md §11). ``oesim.server`` is the HTTP shell around
it that adds fault injection and the request log.

Simulator choices where the real API is unknown or too large to copy (also listed in
``python -m oesim --help``):

- Bearer auth is required on every route, market and network data included (the issue asks
  for it; the real server makes it optional there since 2026-06). ``anonymous_market=True``
  restores the real behaviour.
- Every interval of the official SDK is served, ``30m`` included (a 4.5.16 addition); the
  calendar buckets follow oe-api.md §7.5 (weeks from Sunday, ``season`` from 1 December,
  1 March, ..., ``fy`` labelled 1 January of the year the financial year ends).
- Every market metric is served (:func:`market_region_values`): rooftop PV and curtailment
  come from the dataset's market model where it has one, else 0 (flows: no series without
  a model); renewable generation
  is the sum of the dataset's own unit series plus rooftop PV, so it matches facility data.
- Network data groups by ``fueltech``, ``fueltech_group``, ``status`` and ``renewable``, and
  also accepts the SDK's ``renewable``/``fossil``/``other`` groups as filters.
- The 730-day history window is enforced only with ``enforce_history=True`` (the datasets
  live at fixed dates and the tests must not rot).
- ``unit_code`` without ``facility_code`` collapses all matching units into one
  ``<metric>_total`` result, as the real server does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from oesim.clock import SETTLE_DELAY_S, settled_end
from oesim.credits import CreditLedger, next_reset, plan_credits
from oesim.dataset import Dataset
from oesim.faults import FaultRule

log = logging.getLogger(__name__)

VERSION = "4.5.11"
DEMO_KEY = "sim-demo-key-0000"
FIVE_MIN_S = 300

NETWORK_OFFSET_H = {"NEM": 10, "AU": 10, "WEM": 8}

FACILITY_METRICS = ("power", "energy", "emissions", "market_value", "storage_battery")
MARKET_METRICS = (
    "price",
    "demand",
    "demand_energy",
    "demand_gross",
    "demand_gross_energy",
    "generation_renewable",
    "generation_renewable_energy",
    "generation_renewable_with_storage",
    "generation_renewable_with_storage_energy",
    "renewable_proportion",
    "renewable_with_storage_proportion",
    "curtailment",
    "curtailment_energy",
    "curtailment_solar_utility",
    "curtailment_solar_utility_energy",
    "curtailment_wind",
    "curtailment_wind_energy",
    "flow_imports",
    "flow_exports",
    "flow_imports_energy",
    "flow_exports_energy",
    # SDK 0.12 / server 4.5.16: rooftop PV forecast (MW); the series has forecast_run_time.
    "solar_rooftop_forecast",
)
ALL_METRICS = FACILITY_METRICS + MARKET_METRICS
METRIC_UNITS = {
    "power": "MW",
    "energy": "MWh",
    "emissions": "t",
    "market_value": "$",
    "storage_battery": "MWh",
    "price": "$/MWh",
    **{m: "MWh" for m in MARKET_METRICS if m.endswith("_energy")},
    **{m: "%" for m in MARKET_METRICS if m.endswith("_proportion")},
}
INTERVALS = ("5m", "30m", "1h", "1d", "7d", "1M", "3M", "season", "1y", "fy")
# Fixed-size buckets (seconds); the others are calendar buckets (make_buckets).
INTERVAL_SECONDS = {"5m": 300, "30m": 1800, "1h": 3600, "1d": 86_400}
STATUSES = ("committed", "operating", "commissioning", "retired")
FUELTECHS = (
    "coal_black",
    "coal_brown",
    "gas_ccgt",
    "gas_ocgt",
    "gas_recip",
    "gas_steam",
    "gas_wcmg",
    "distillate",
    "bioenergy_biogas",
    "bioenergy_biomass",
    "hydro",
    "pumps",
    "solar_utility",
    "solar_thermal",
    "solar_rooftop",
    "solar",
    "wind",
    "wind_offshore",
    "battery",
    "battery_charging",
    "battery_discharging",
    "nuclear",
    "other",
    "aggregator_vpp",
    "aggregator_dr",
    "imports",
    "exports",
    "interconnector",
)
FUELTECH_GROUP_IDS = (
    "solar",
    "wind",
    "hydro",
    "biomass",
    "coal",
    "gas",
    "battery",
    "battery_charging",
    "battery_discharging",
    "distillate",
    "bioenergy",
    "pumps",
)
# The server's own fueltech -> fueltech_group_id table (oe-api.md §3.4, vocabulary 1).
SERVER_FUELTECH_GROUP = {
    "coal_black": "coal",
    "coal_brown": "coal",
    "gas_ccgt": "gas",
    "gas_ocgt": "gas",
    "gas_recip": "gas",
    "gas_steam": "gas",
    "gas_wcmg": "gas",
    "distillate": "distillate",
    "bioenergy_biogas": "bioenergy",
    "bioenergy_biomass": "bioenergy",
    "hydro": "hydro",
    "hydro_and_storage": "hydro",
    "pumps": "pumps",
    "solar_utility": "solar",
    "solar_thermal": "solar",
    "solar_rooftop": "solar",
    "wind": "wind",
    "wind_offshore": "wind",
    "battery": "battery",
    "battery_charging": "battery_charging",
    "battery_discharging": "battery_discharging",
}
HIDDEN_FUELTECHS = frozenset({"solar_rooftop", "imports", "exports", "interconnector"})
PRIMARY_GROUPINGS = ("network", "network_region")
NETWORK_SECONDARY_GROUPINGS = ("fueltech", "fueltech_group", "status", "renewable")

# Whole-day range limits per plan and interval (oe-api.md §1.4); unknown intervals -> 7.
RANGE_LIMIT_DAYS = {
    "COMMUNITY": {
        "5m": 8,
        "1h": 32,
        "1d": 366,
        "7d": 366,
        "1M": 732,
        "3M": 1830,
        "season": 1830,
        "1y": 3700,
    },
    "ACADEMIC": {
        "5m": 30,
        "1h": 365,
        "1d": 3650,
        "7d": 3650,
        "1M": 36500,
        "3M": 36500,
        "season": 36500,
        "1y": 36500,
    },
}
# PRO and ENTERPRISE have ACADEMIC's ranges (oe-api.md §1.4).
RANGE_LIMIT_DAYS["PRO"] = RANGE_LIMIT_DAYS["ENTERPRISE"] = RANGE_LIMIT_DAYS["ACADEMIC"]
HISTORY_DAYS = {"COMMUNITY": 730}

HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
# What NEMweb's firewall answers a client it has blocked (IIS's page).
HTML_403 = (
    "<html><head><title>403 - Forbidden: Access is denied.</title></head><body>"
    "<h2>403 - Forbidden: Access is denied.</h2>"
    "<h3>You do not have permission to view this directory or page.</h3></body></html>\r\n"
)
HTML_504 = (
    "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    "<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _sydney_tz() -> Any:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Australia/Sydney")
    except Exception:  # pragma: no cover - no tz database: fall back to fixed +10:00
        return timezone(timedelta(hours=10))


SYDNEY = _sydney_tz()


@dataclass
class SimulatorConfig:
    """Everything a request's answer depends on, besides the request itself.

    ``keys``: accepted API keys -> plan (``COMMUNITY``/``ACADEMIC``); ``exhausted_keys``
    answer 401 ``Authentication failed``; ``clock`` returns the aware "now" (default dates,
    ``created_at``, history window, credit days); ``slow_seconds``/``retry_after`` are fault
    defaults. ``live``: no data after the last settled interval (``settle_delay_s`` after
    its end, oesim.clock); ``credits``: count each key's daily credits (None: uncounted).
    """

    dataset: Dataset
    keys: dict[str, str] = field(default_factory=lambda: {DEMO_KEY: "COMMUNITY"})
    exhausted_keys: frozenset[str] = frozenset()
    version: str = VERSION
    anonymous_market: bool = False
    enforce_history: bool = False
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    slow_seconds: float = 3.0
    retry_after: int = 1
    legacy_shape: bool = False  # answer in the 4.0.x shape (see to_legacy_shape)
    live: bool = False
    settle_delay_s: int = SETTLE_DELAY_S
    credits: CreditLedger | None = None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


class HttpError(Exception):
    """An error response: ``payload`` is serialised as the JSON body."""

    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(status, payload)
        self.status = status
        self.payload = payload


def dump_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON as FastAPI writes it (no NaN allowed)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def oe_error_payload(message: str, version: str = VERSION) -> dict[str, Any]:
    """The OE error envelope (oe-api.md §1.5)."""
    return {"version": version, "response_status": "ERROR", "error": message, "success": False}


def oe_error(status: int, message: str, version: str = VERSION) -> HttpError:
    return HttpError(status, oe_error_payload(message, version))


def created_at(now: datetime) -> str:
    """``created_at``: Australia/Sydney wall clock with DST, seconds precision."""
    return now.astimezone(SYDNEY).replace(microsecond=0).isoformat()


def format_stamps(epochs: np.ndarray, offset_h: int) -> list[str]:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SS+HH:MM`` at a fixed network offset."""
    tz = timezone(timedelta(hours=offset_h))
    suffix = f"+{offset_h:02d}:00"
    base = int(epochs[0]) if len(epochs) else 0
    start = datetime.fromtimestamp(base, tz).replace(tzinfo=None)
    return [
        (start + timedelta(seconds=int(e) - base)).isoformat(timespec="seconds") + suffix
        for e in epochs
    ]


# ---------------------------------------------------------------------------------------
# 422: FastAPI / pydantic v2 validation errors


def _expected(values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def enum_error(loc: list[Any], value: str, allowed: Sequence[str]) -> dict[str, Any]:
    expected = _expected(allowed)
    return {
        "type": "enum",
        "loc": loc,
        "msg": f"Input should be {expected}",
        "input": value,
        "ctx": {"expected": expected},
    }


def missing_error(name: str) -> dict[str, Any]:
    return {"type": "missing", "loc": ["query", name], "msg": "Field required", "input": None}


def too_long_error(name: str, values: list[str], limit: int) -> dict[str, Any]:
    return {
        "type": "too_long",
        "loc": ["query", name],
        "msg": f"List should have at most {limit} items after validation, not {len(values)}",
        "input": values,
        "ctx": {"field_type": "List", "max_length": limit, "actual_length": len(values)},
    }


def parse_query_datetime(text: str) -> datetime:
    """Parse as pydantic does for a ``datetime`` query param (ISO date or datetime,
    optional offset/``Z``, or Unix seconds); raise ValueError with pydantic's reason."""
    s = text.strip()
    if not s:
        raise ValueError("input is too short")
    if s.lstrip("-").replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(s), UTC)
    if len(s) < 10:
        raise ValueError("input is too short")
    try:
        return datetime.fromisoformat(s.replace(" ", "T", 1) if len(s) > 10 else s)
    except ValueError:
        pass
    if not s[:4].isdigit():
        raise ValueError("invalid character in year")
    raise ValueError("invalid datetime separator, expected `T`, `t`, `_` or space")


def date_error(name: str, value: str, reason: str) -> dict[str, Any]:
    return {
        "type": "datetime_from_date_parsing",
        "loc": ["query", name],
        "msg": f"Input should be a valid datetime or date, {reason}",
        "input": value,
        "ctx": {"error": reason},
    }


class Query:
    """Parsed query string: lists are repeated keys; a scalar takes the last value."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.params: dict[str, list[str]] = parse_qs(raw, keep_blank_values=True)

    def list(self, name: str) -> list[str]:
        return self.params.get(name, [])

    def one(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else None


def _validate_enum_list(
    q: Query, name: str, allowed: Sequence[str], errors: list[dict[str, Any]]
) -> list[str]:
    values = q.list(name)
    for i, v in enumerate(values):
        if v not in allowed:
            errors.append(enum_error(["query", name, i], v, allowed))
    return values


def _validate_enum(
    q: Query, name: str, allowed: Sequence[str], errors: list[dict[str, Any]]
) -> str | None:
    v = q.one(name)
    if v is not None and v not in allowed:
        errors.append(enum_error(["query", name], v, allowed))
    return v


def _validate_date(q: Query, name: str, errors: list[dict[str, Any]]) -> datetime | None:
    v = q.one(name)
    if v is None:
        return None
    try:
        return parse_query_datetime(v)
    except (ValueError, OverflowError, OSError) as exc:
        errors.append(date_error(name, v, str(exc)))
        return None


def _validate_max_len(q: Query, name: str, limit: int, errors: list[dict[str, Any]]) -> list[str]:
    values = q.list(name)
    if len(values) > limit:
        errors.append(too_long_error(name, values, limit))
    return values


# ---------------------------------------------------------------------------------------
# Auth


def authenticate(config: SimulatorConfig, headers: Mapping[str, str], required: bool) -> str:
    """The caller's plan, or raise 401 with the real texts (oe-api.md §1.2)."""
    auth = headers.get("Authorization") or headers.get("authorization")
    if not auth:
        if required:
            raise oe_error(401, "Not authenticated", config.version)
        return "COMMUNITY"
    scheme, _, credentials = auth.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise oe_error(401, "Not authenticated", config.version)
    if len(credentials) < 10:
        raise oe_error(401, "Invalid API key", config.version)
    if credentials in config.exhausted_keys:
        raise oe_error(401, "Authentication failed", config.version)
    plan = config.keys.get(credentials)
    if plan is None:
        raise oe_error(401, "Invalid API key", config.version)
    ledger = config.credits
    if ledger is not None and not ledger.spend(credentials, plan, config.clock().timestamp()):
        raise oe_error(401, "Authentication failed", config.version)
    return plan


def bearer_key(headers: Mapping[str, str]) -> str:
    """The key of a Bearer ``Authorization`` header ("" without one)."""
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    return auth.partition(" ")[2].strip()


# ---------------------------------------------------------------------------------------
# Shared time-series helpers


def check_network(config: SimulatorConfig, network: str) -> int:
    if network not in NETWORK_OFFSET_H:
        raise oe_error(400, f"Network {network} not supported", config.version)
    return NETWORK_OFFSET_H[network]


def default_end(config: SimulatorConfig, offset_h: int) -> datetime:
    """The default (exclusive) ``date_end``, naive network time: just after the last settled
    interval (oesim.clock; with the default delay, the last completed 5-min boundary minus
    the newest, still settling interval)."""
    end = settled_end(config.clock().timestamp(), config.settle_delay_s)
    return datetime.fromtimestamp(end, timezone(timedelta(hours=offset_h))).replace(tzinfo=None)


def resolve_window(
    config: SimulatorConfig,
    plan: str,
    interval: str,
    start: datetime | None,
    end: datetime | None,
    offset_h: int,
    check_order: bool,
    clip: bool = True,
) -> tuple[datetime, datetime]:
    """Validate the naive window (OE 400s) and fill defaults; returns naive network times.
    Live (``config.live`` and ``clip``), the window ends at the last settled interval."""
    if start is not None and start.tzinfo is not None:
        raise oe_error(400, "Date start must be timezone naive and in network time", config.version)
    if end is not None and end.tzinfo is not None:
        raise oe_error(400, "Date end must be timezone naive and in network time", config.version)
    max_days = RANGE_LIMIT_DAYS.get(plan, RANGE_LIMIT_DAYS["COMMUNITY"]).get(interval, 7)
    now_local = config.clock().astimezone(timezone(timedelta(hours=offset_h))).replace(tzinfo=None)
    if end is None:
        end = default_end(config, offset_h)
    if start is None:
        start = end - timedelta(days=max_days / 2)
    if check_order and start > end:
        raise oe_error(400, "Date start must be before date end", config.version)
    if (end - start).days > max_days:
        raise oe_error(
            400,
            f"Date range too large for {interval} interval. Maximum range is {max_days} days.",
            config.version,
        )
    history = HISTORY_DAYS.get(plan)
    if (
        config.enforce_history
        and history is not None
        and start < now_local - timedelta(days=history)
    ):
        raise oe_error(
            400,
            f"Date start is too far in the past. Your plan allows data from the last {history} days.",
            config.version,
        )
    if config.live and clip:
        # Nothing after the last settled interval: a window beyond it has no rows (404).
        end = min(end, default_end(config, offset_h))
    return start, end


def window_stamps(start: datetime, end: datetime, offset_h: int) -> np.ndarray:
    """Interval-ending 5-min stamps t (epoch s) with ``start <= t < end`` (naive, network time)."""
    tz = timezone(timedelta(hours=offset_h))
    s = int(start.replace(tzinfo=tz).timestamp())
    e = int(end.replace(tzinfo=tz).timestamp())
    first = -(-s // FIVE_MIN_S) * FIVE_MIN_S
    if first >= e:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, e, FIVE_MIN_S, dtype=np.int64)


@dataclass
class Buckets:
    """How 5-min stamps map to output stamps: ``starts`` = first index of each bucket."""

    labels: np.ndarray
    starts: np.ndarray


def _calendar_month(local: np.ndarray, interval: str) -> np.ndarray:
    """Per local epoch second, the month (months since 1970-01) that labels its bucket."""
    months = local.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    if interval == "1M":
        return months
    if interval == "3M":
        return months - months % 3
    if interval == "season":
        # Southern seasons: Dec-Feb, Mar-May, Jun-Aug, Sep-Nov, labelled by their first month.
        return months + 1 - (months + 1) % 3 - 1
    year = months - months % 12
    if interval == "fy":
        # July to June, labelled 1 January of the year the financial year ends.
        return year + np.where(months % 12 >= 6, 12, 0)
    return year  # 1y


def bucket_keys(t: np.ndarray, interval: str, offset_h: int) -> np.ndarray:
    """Per interval-ending stamp, the epoch second of its bucket's label (oe-api.md §7.5):
    the start of the hour, day, Sunday-started week, month, quarter, season or year of the
    stamp in network time; ``fy`` is labelled 1 January of the year the FY ends."""
    off = offset_h * 3600
    local = t + off
    size = INTERVAL_SECONDS.get(interval)
    if size is not None:
        return local // size * size - off
    if interval == "7d":
        day = local // 86_400
        return (day - (day + 4) % 7) * 86_400 - off  # 1970-01-01 was a Thursday
    months = _calendar_month(local, interval)
    return months.astype("datetime64[M]").astype("datetime64[s]").astype(np.int64) - off


def make_buckets(t: np.ndarray, interval: str, offset_h: int) -> Buckets:
    """Start-of-bucket labels on interval-ending stamps (oe-api.md §7.5); ``t`` ascending."""
    if interval == "5m":
        return Buckets(labels=t, starts=np.arange(len(t)))
    if not len(t):
        return Buckets(labels=t, starts=np.zeros(0, dtype=np.int64))
    keys = bucket_keys(t, interval, offset_h)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return Buckets(labels=keys[starts], starts=starts)


def aggregate(values: np.ndarray, buckets: Buckets, how: str) -> np.ndarray:
    """Aggregate 5-min values per bucket ignoring NaN: ``mean`` or ``sum``; NaN if empty."""
    if len(buckets.starts) == len(values):
        return values
    if len(values) == 0:
        return values
    present = ~np.isnan(values)
    sums = np.add.reduceat(np.where(present, values, 0.0), buckets.starts)
    counts = np.add.reduceat(present.astype(np.int64), buckets.starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / counts if how == "mean" else sums
    return np.where(counts > 0, out, np.nan)


def clean(values: np.ndarray, dp: int = 6) -> np.ndarray:
    """Round to ``dp`` decimals and turn -0.0 into 0.0 (NaN stays NaN)."""
    return np.round(values, dp) + 0.0


@dataclass(frozen=True)
class Points:
    """The ``data`` of one result: stamps and values (NaN = ``null``), ascending.

    Kept as arrays and encoded straight to JSON text, which is several times faster than
    building ``[[stamp, value], ...]`` lists for ``json.dumps`` (the benchmark serves
    ~180 000 points per response).
    """

    stamps: list[str]
    values: np.ndarray

    @property
    def first(self) -> str:
        return self.stamps[0]

    @property
    def last(self) -> str:
        return self.stamps[-1]

    def to_json(self) -> str:
        prefixes = ['["' + s + '",' for s in self.stamps]
        texts = list(map(float.__repr__, self.values.tolist()))
        if np.isnan(self.values).any():
            texts = ["null" if t == "nan" else t for t in texts]
        return "[" + "],".join(map(str.__add__, prefixes, texts)) + "]]"

    def to_list(self) -> list[list[Any]]:
        return [
            [s, None if v != v else v]
            for s, v in zip(self.stamps, self.values.tolist(), strict=True)
        ]


def point_list(stamps: list[str], values: np.ndarray, lo: int, hi: int) -> Points:
    """The points for indices lo..hi inclusive."""
    return Points(stamps[lo : hi + 1], values[lo : hi + 1])


def merge_points(parts: list[Points]) -> Points:
    """Concatenate several results' points, stably sorted by stamp (duplicates kept)."""
    stamps = [s for p in parts for s in p.stamps]
    values = np.concatenate([p.values for p in parts])
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    return Points([stamps[i] for i in order], values[order])


def series_envelope(
    network: str,
    metric: str,
    interval: str,
    offset_h: int,
    results: list[dict[str, Any]],
    groupings: list[str],
) -> dict[str, Any]:
    """One series object with the global min/max ``date_start``/``date_end`` on it and on
    every result (oe-api.md §4.3); result ``data`` are :class:`Points`."""
    ds = min(r["data"].first for r in results)
    de = max(r["data"].last for r in results)
    ordered = [
        {
            "name": r["name"],
            "date_start": ds,
            "date_end": de,
            "columns": r["columns"],
            "data": r["data"],
        }
        for r in results
    ]
    return {
        "network_code": network,
        "metric": metric,
        "unit": METRIC_UNITS.get(metric, "MW"),
        "interval": interval,
        "date_start": ds,
        "date_end": de,
        "groupings": groupings,
        "network_timezone_offset": f"+{offset_h:02d}:00",
        "results": ordered,
    }


def _encode_series(series: dict[str, Any]) -> str:
    head = {k: v for k, v in series.items() if k != "results"}
    results = []
    for r in series["results"]:
        meta = {k: v for k, v in r.items() if k != "data"}
        text = json.dumps(meta, separators=(",", ":"), ensure_ascii=False)
        results.append(text[:-1] + ',"data":' + r["data"].to_json() + "}")
    text = json.dumps(head, separators=(",", ":"), ensure_ascii=False)
    return text[:-1] + ',"results":[' + ",".join(results) + "]}"


def timeseries_body(config: SimulatorConfig, series: list[dict[str, Any]]) -> bytes:
    """The success envelope of a time-series endpoint (no ``total_records``)."""
    head = {"version": config.version, "created_at": created_at(config.clock()), "success": True}
    text = json.dumps(head, separators=(",", ":"), ensure_ascii=False)
    body = text[:-1] + ',"data":[' + ",".join(_encode_series(s) for s in series) + "]}"
    if config.legacy_shape:
        return dump_json(to_legacy_shape(json.loads(body)))
    return body.encode()


def ok_envelope(config: SimulatorConfig, data: Any, total_records: int | None = None) -> bytes:
    body: dict[str, Any] = {
        "version": config.version,
        "created_at": created_at(config.clock()),
        "success": True,
        "data": data,
    }
    if total_records is not None:
        body["total_records"] = total_records
    return dump_json(body)


def _utc_z(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _legacy_dates(obj: dict[str, Any], rename: bool) -> dict[str, Any]:
    """``date_start``/``date_end`` with offset -> naive network time, renamed to
    ``start``/``end`` when ``rename`` (a series; a result kept its keys)."""
    out = {}
    for key, value in obj.items():
        if key in ("date_start", "date_end") and isinstance(value, str):
            out[key[5:] if rename else key] = value[:19]
        else:
            out[key] = value
    return out


def to_legacy_shape(body: dict[str, Any]) -> dict[str, Any]:
    """A time-series body as the API wrote it in 4.0.x (before March 2025; oe-api.md §4.3,
    §11.14).

    The envelope carries ``"error": null`` and ``"total_records": null``; a series has naive
    ``start``/``end`` instead of ``date_start``/``date_end``, and its results naive
    ``date_start``/``date_end``; a region is ``columns.network_region`` with
    ``groupings: ["network_region"]``; data timestamps are UTC with ``Z``. Pure: returns a new
    body. (The facility list kept its shape and its ``total_records`` count.)
    """
    out = {**body, "error": None, "total_records": None}
    legacy = []
    for series in body["data"]:
        results = []
        regional = False
        for result in series["results"]:
            r = _legacy_dates(result, rename=False)
            columns = dict(r.get("columns") or {})
            if "region" in columns:
                columns["network_region"] = columns.pop("region")
                regional = True
            r["columns"] = columns
            r["data"] = [[_utc_z(t), v] for t, v in result["data"]]
            results.append(r)
        s = _legacy_dates(series, rename=True)
        s["results"] = results
        if regional:
            s["groupings"] = ["network_region"]
        legacy.append(s)
    out["data"] = legacy
    return out


# ---------------------------------------------------------------------------------------
# Dataset access (fast array path when the dataset offers it)


def unit_power_array(dataset: Dataset, unit_code: str, t: np.ndarray) -> np.ndarray:
    """MW at stamps ``t`` (NaN = no data), via ``unit_power_array`` when available."""
    fast = getattr(dataset, "unit_power_array", None)
    if fast is not None:
        return np.asarray(fast(unit_code, t), dtype=np.float64)
    times = [
        datetime.fromtimestamp(int(x), UTC).astimezone(timezone(timedelta(hours=10))) for x in t
    ]
    values = dataset.unit_power(unit_code, times)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def region_market_array(dataset: Dataset, region: str, metric: str, t: np.ndarray) -> np.ndarray:
    fast = getattr(dataset, "region_market_array", None)
    if fast is not None:
        return np.asarray(fast(region, metric, t), dtype=np.float64)
    times = [
        datetime.fromtimestamp(int(x), UTC).astimezone(timezone(timedelta(hours=10))) for x in t
    ]
    values = dataset.region_market(region, metric, times)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def storage_soc(unit: dict[str, Any], t: np.ndarray, offset_h: int) -> np.ndarray:
    """Battery state of charge (MWh): a deterministic daily cycle, full in the evening."""
    storage = float(unit.get("capacity_storage") or 0.0)
    h = ((t + offset_h * 3600) % 86_400) / 3600.0
    d = np.minimum(np.abs(h - 16.5), 24.0 - np.abs(h - 16.5))
    return storage * (0.15 + 0.7 * np.exp(-0.5 * (d / 3.5) ** 2))


# ---------------------------------------------------------------------------------------
# GET /facilities/


def _stamp_last_seen(
    config: SimulatorConfig, fac: dict[str, Any], units: list[dict[str, Any]]
) -> None:
    """An operating unit was last seen at the newest interval the server serves now."""
    offset_h = NETWORK_OFFSET_H.get(str(fac.get("network_id")), 10)
    newest = default_end(config, offset_h) - timedelta(minutes=5)
    stamp = newest.isoformat(timespec="seconds") + f"+{offset_h:02d}:00"
    for unit in units:
        if unit.get("status_id") == "operating" and "data_first_seen" in unit:
            unit.setdefault("data_last_seen", stamp)


def handle_facilities(config: SimulatorConfig, q: Query) -> Response:
    errors: list[dict[str, Any]] = []
    statuses = _validate_enum_list(q, "status_id", STATUSES, errors)
    fueltechs = _validate_enum_list(q, "fueltech_id", FUELTECHS, errors)
    groups = _validate_enum_list(q, "fueltech_group_id", FUELTECH_GROUP_IDS, errors)
    networks = q.list("network_id")
    region = q.one("network_region")
    codes = q.list("facility_code")
    if errors:
        raise HttpError(422, {"detail": errors})
    out = []
    for fac in config.dataset.facilities():
        if codes and fac["code"] not in codes:
            continue
        if networks and fac.get("network_id") not in networks:
            continue
        if region is not None and fac.get("network_region") != region:
            continue
        units = []
        for unit in fac.get("units", []):
            ft = unit.get("fueltech_id")
            if ft in HIDDEN_FUELTECHS:
                continue
            if statuses and unit.get("status_id") not in statuses:
                continue
            if fueltechs and ft not in fueltechs:
                continue
            if groups and SERVER_FUELTECH_GROUP.get(ft) not in groups:
                continue
            units.append({k: v for k, v in unit.items() if v is not None})
        if not units:
            continue
        if getattr(config.dataset, "live_last_seen", False):
            _stamp_last_seen(config, fac, units)
        item = {k: v for k, v in fac.items() if v is not None and k != "units"}
        item["units"] = units
        out.append(item)
    if not out:
        filters = []
        for label, values in (
            ("facility_codes", codes),
            ("network_ids", networks),
            ("status_ids", statuses),
            ("fueltech_ids", fueltechs),
            ("fueltech_group_ids", groups),
        ):
            if values:
                filters.append(f"{label}=[{', '.join(values)}]")
        if region is not None:
            filters.append(f"network_region={region}")
        raise oe_error(
            404, "No facilities found matching filters: " + ", ".join(filters), config.version
        )
    out.sort(key=lambda f: str(f.get("name", "")).lower())
    return Response(200, ok_envelope(config, out, total_records=len(out)))


# ---------------------------------------------------------------------------------------
# GET /data/facilities/{network}


def _facility_metric_values(
    config: SimulatorConfig,
    metric: str,
    fac: dict[str, Any],
    unit: dict[str, Any],
    power: np.ndarray,
    t: np.ndarray,
    offset_h: int,
    price_cache: dict[str, np.ndarray],
) -> np.ndarray:
    """5-min values of one facility metric for one unit (NaN = no data)."""
    if metric == "power":
        return power
    energy = power / 12.0
    if metric == "energy":
        return energy
    if metric == "emissions":
        factor = float(unit.get("emissions_factor_co2") or 0.0)
        return np.where(np.isnan(energy), np.nan, np.where(energy > 0, energy * factor, 0.0))
    if metric == "market_value":
        region = fac.get("network_region", "")
        if region not in price_cache:
            try:
                price_cache[region] = region_market_array(config.dataset, region, "price", t)
            except KeyError:
                price_cache[region] = np.full(t.shape, np.nan)
        return energy * price_cache[region]
    if metric == "storage_battery":
        if unit.get("fueltech_id") != "battery" or not unit.get("capacity_storage"):
            return np.full(t.shape, np.nan)
        return np.where(np.isnan(power), np.nan, storage_soc(unit, t, offset_h))
    raise KeyError(metric)


def _nodata_text(codes: list[str], units: list[str]) -> str:
    if codes and units:
        what = f"facility={codes!r}, unit={units!r}"
    elif codes:
        what = f"facility={codes!r}"
    elif units:
        what = f"unit={units!r}"
    else:
        return "No data available for the specified filters"
    return f"No data available for {what} in the specified time range"


def handle_facility_data(config: SimulatorConfig, plan: str, network: str, q: Query) -> Response:
    errors: list[dict[str, Any]] = []
    metrics = q.list("metrics")
    if not metrics:
        errors.append(missing_error("metrics"))
    else:
        _validate_enum_list(q, "metrics", ALL_METRICS, errors)
    interval = _validate_enum(q, "interval", INTERVALS, errors) or "5m"
    codes = _validate_max_len(q, "facility_code", 30, errors)
    unit_codes = _validate_max_len(q, "unit_code", 30, errors)
    start = _validate_date(q, "date_start", errors)
    end = _validate_date(q, "date_end", errors)
    if errors:
        raise HttpError(422, {"detail": errors})
    offset_h = check_network(config, network)
    bad = [m for m in metrics if m not in FACILITY_METRICS]
    if bad:
        raise oe_error(400, f"Unsupported metrics: {', '.join(bad)}", config.version)
    start, end = resolve_window(config, plan, interval, start, end, offset_h, check_order=False)
    t = window_stamps(start, end, offset_h)
    buckets = make_buckets(t, interval, offset_h)
    stamps = format_stamps(buckets.labels, offset_h) if len(t) else []

    selected: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for fac in config.dataset.facilities():
        if network != "AU" and fac.get("network_id") != network:
            continue
        if codes and fac["code"] not in codes:
            continue
        for unit in fac.get("units", []):
            if unit.get("fueltech_id") in HIDDEN_FUELTECHS:
                continue
            if unit_codes and unit["code"] not in unit_codes:
                continue
            selected.append((fac, unit))
    selected.sort(key=lambda fu: (fu[0]["code"], fu[1]["code"]))

    per_metric: dict[str, list[tuple[tuple[int, str, str], dict[str, Any]]]] = {
        m: [] for m in metrics
    }
    price_cache: dict[str, np.ndarray] = {}
    how = {"power": "mean", "storage_battery": "mean"}
    if len(t):
        for fac, unit in selected:
            if unit.get("status_id") == "retired":
                continue
            power = unit_power_array(config.dataset, unit["code"], t)
            if np.isnan(power).all():
                continue
            for metric in dict.fromkeys(metrics):
                raw = _facility_metric_values(
                    config, metric, fac, unit, power, t, offset_h, price_cache
                )
                values = clean(aggregate(raw, buckets, how.get(metric, "sum")))
                present = np.flatnonzero(~np.isnan(values))
                if not len(present):
                    continue
                lo, hi = int(present[0]), int(present[-1])
                result = {
                    "name": f"{metric}_{unit['code']}",
                    "columns": {"unit_code": unit["code"]},
                    "data": point_list(stamps, values, lo, hi),
                }
                per_metric[metric].append(((-hi, fac["code"], unit["code"]), result))

    data = []
    for metric in dict.fromkeys(metrics):
        rows = [r for _, r in sorted(per_metric[metric], key=lambda kr: kr[0])]
        if not rows:
            continue
        if unit_codes and not codes:
            # real-server quirk: without facility_code, all units collapse into _total
            points = merge_points([r["data"] for r in rows])
            rows = [{"name": f"{metric}_total", "columns": {}, "data": points}]
        data.append(series_envelope(network, metric, interval, offset_h, rows, []))
    if not data:
        raise oe_error(404, _nodata_text(codes, unit_codes), config.version)
    return Response(200, timeseries_body(config, data))


# ---------------------------------------------------------------------------------------
# Unit series summed by region, fueltech and status (network data, the market's renewables)

# Renewable and fossil fueltechs (oe-api.md §3.4): the server's renewable flag, and the
# official SDK's "fossil" group (coal, gas, distillate).
RENEWABLE_FUELTECHS = frozenset(
    {
        "bioenergy_biogas",
        "bioenergy_biomass",
        "hydro",
        "hydro_and_storage",
        "solar_utility",
        "solar_thermal",
        "solar_rooftop",
        "wind",
        "wind_offshore",
    }
)
FOSSIL_FUELTECHS = frozenset(
    {k for k, g in SERVER_FUELTECH_GROUP.items() if g in ("coal", "gas", "distillate")}
)
# The official SDK's FueltechGroupType adds these to the server's groups; the simulator
# serves them as filters (the real server's enum refuses them).
SDK_FUELTECH_GROUPS = ("renewable", "fossil", "other")
SDK_NAMED_GROUPS = frozenset({"solar", "wind", "hydro", "battery", "gas", "coal"})
NETWORK_FUELTECH_GROUPS = FUELTECH_GROUP_IDS + SDK_FUELTECH_GROUPS
SPLIT_BATTERY = ("battery_charging", "battery_discharging")
# Pseudo-metric for the market's storage output: the discharging side of each battery.
DISCHARGE = "_discharge"
NEM_REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")


def fueltech_in_group(fueltech: str, group: str) -> bool:
    """Whether a fueltech belongs to a server group or one of the SDK's extra groups."""
    if group == "renewable":
        return fueltech in RENEWABLE_FUELTECHS
    if group == "fossil":
        return fueltech in FOSSIL_FUELTECHS
    if group == "other":
        # The SDK's catch-all: whatever its own groups (solar, wind, hydro, battery, gas,
        # coal) leave, e.g. bioenergy, distillate and pumps.
        return SERVER_FUELTECH_GROUP.get(fueltech) not in SDK_NAMED_GROUPS
    return SERVER_FUELTECH_GROUP.get(fueltech) == group


# (metric, region, fueltech, status)
SumKey = tuple[str, str, str, str]


@dataclass
class UnitSums:
    """5-min sums of unit (and rooftop) series per :data:`SumKey`, with the number of
    series that had a value at each stamp (0 -> no data); ``size`` stamps each."""

    size: int
    sums: dict[SumKey, np.ndarray] = field(default_factory=dict)
    counts: dict[SumKey, np.ndarray] = field(default_factory=dict)

    def add(self, key: SumKey, values: np.ndarray) -> None:
        present = ~np.isnan(values)
        self.sums[key] = self.sums.get(key, 0.0) + np.where(present, values, 0.0)
        self.counts[key] = self.counts.get(key, 0) + present

    def region_sum(self, metric: str, region: str, fueltechs: frozenset[str]) -> np.ndarray:
        """Sum over those fueltechs in one region (0 where none has a value)."""
        out = np.zeros(self.size)
        for (m, r, ft, _), s in self.sums.items():
            if m == metric and r == region and ft in fueltechs:
                out += s
        return out


def _network_regions(config: SimulatorConfig, network: str) -> list[str]:
    regions = {
        f.get("network_region")
        for f in config.dataset.facilities()
        if network == "AU" or f.get("network_id") == network
    }
    base = {"NEM": list(NEM_REGIONS), "WEM": ["WEM"]}.get(network)
    if base is None:
        base = [*NEM_REGIONS, "WEM"]
    return sorted(set(base) | {r for r in regions if r})


def model_series(config: SimulatorConfig, region: str, name: str, t: np.ndarray) -> np.ndarray:
    """A region series that only a dataset with a market model has (``solar_rooftop``,
    ``curtailment_wind``, ``curtailment_solar_utility``); 0 MW for a dataset without one."""
    try:
        return region_market_array(config.dataset, region, name, t)
    except KeyError:
        return np.zeros(t.shape)


def _counted_units(fac: dict[str, Any]) -> list[dict[str, Any]]:
    """Units that count in network totals: not hidden, not retired, and split battery units
    only where no bidirectional unit already counts the battery."""
    units = fac.get("units", [])
    has_bidi = any(u.get("fueltech_id") == "battery" for u in units)
    return [
        u
        for u in units
        if u.get("fueltech_id") not in HIDDEN_FUELTECHS
        and u.get("status_id") != "retired"
        and not (has_bidi and u.get("fueltech_id") in SPLIT_BATTERY)
    ]


def _add_rooftop(
    config: SimulatorConfig, sums: UnitSums, metrics: Sequence[str], region: str, t: np.ndarray
) -> None:
    """Rooftop PV as the ``solar_rooftop`` fueltech (network data includes it, §5)."""
    pv = model_series(config, region, "solar_rooftop", t)
    if not pv.any():
        return
    for metric in metrics:
        if metric == "power":
            v = pv
        elif metric == "energy":
            v = pv / 12.0
        elif metric == "emissions":
            v = np.zeros(t.shape)
        elif metric == "market_value":
            v = pv / 12.0 * _region_price(config, region, t)
        else:
            continue
        sums.add((metric, region, "solar_rooftop", "operating"), v)


def _region_price(config: SimulatorConfig, region: str, t: np.ndarray) -> np.ndarray:
    try:
        return region_market_array(config.dataset, region, "price", t)
    except KeyError:
        return np.full(t.shape, np.nan)


def sum_unit_series(
    config: SimulatorConfig,
    network: str,
    metrics: Sequence[str],
    t: np.ndarray,
    offset_h: int,
    region_filter: str | None,
) -> UnitSums:
    """Every counted unit's 5-min series of each metric, summed per :data:`SumKey`, plus
    rooftop PV where the dataset models it. ``DISCHARGE`` sums battery output > 0."""
    sums = UnitSums(len(t))
    price_cache: dict[str, np.ndarray] = {}
    regions: set[str] = set()
    for fac in config.dataset.facilities():
        region = fac.get("network_region", "")
        if network != "AU" and fac.get("network_id") != network:
            continue
        if region_filter is not None and region != region_filter:
            continue
        regions.add(region)
        for unit in _counted_units(fac):
            ft, status = unit.get("fueltech_id", "other"), unit.get("status_id", "operating")
            power = unit_power_array(config.dataset, unit["code"], t)
            for metric in metrics:
                if metric == DISCHARGE:
                    if ft in ("battery", "battery_discharging"):
                        sums.add((metric, region, ft, status), np.maximum(power, 0.0))
                    continue
                v = _facility_metric_values(
                    config, metric, fac, unit, power, t, offset_h, price_cache
                )
                sums.add((metric, region, ft, status), v)
    for region in sorted(regions):
        _add_rooftop(config, sums, metrics, region, t)
    return sums


# ---------------------------------------------------------------------------------------
# GET /market/network/{network}


def _renewables(units: UnitSums, region: str, with_storage: bool) -> np.ndarray:
    """Renewable output (MW) of a region: its renewable units plus rooftop PV, and with
    storage, the discharging side of its batteries."""
    gen = units.region_sum("power", region, RENEWABLE_FUELTECHS)
    if with_storage:
        gen += units.region_sum(DISCHARGE, region, frozenset({"battery", "battery_discharging"}))
    return gen


def _region_base(
    config: SimulatorConfig, region: str, name: str, t: np.ndarray, units: UnitSums | None
) -> np.ndarray:
    """One MW (or $/MWh) quantity of a region at 5 minutes; KeyError when not served."""
    if name in ("price", "demand", "flow_imports", "flow_exports"):
        return region_market_array(config.dataset, region, name, t)
    if name == "demand_gross":
        demand = region_market_array(config.dataset, region, "demand", t)
        return demand + model_series(config, region, "solar_rooftop", t)
    if name == "solar_rooftop_forecast":
        return model_series(config, region, "solar_rooftop", t)
    if name in ("curtailment_wind", "curtailment_solar_utility"):
        return model_series(config, region, name, t)
    if name == "curtailment":
        wind = model_series(config, region, "curtailment_wind", t)
        return wind + model_series(config, region, "curtailment_solar_utility", t)
    if name in ("generation_renewable", "generation_renewable_with_storage"):
        assert units is not None
        return _renewables(units, region, with_storage=name.endswith("_storage"))
    raise KeyError(name)


def market_region_values(
    config: SimulatorConfig, region: str, metric: str, t: np.ndarray, units: UnitSums | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """A market metric of one region at 5 minutes, as (values, denominator).

    MW metrics and ``price`` come with no denominator; ``*_energy`` is MW / 12 (MWh in the
    interval); a ``*_proportion`` is (renewable MW, gross demand MW): the server divides
    their bucket sums (× 100). KeyError when the dataset does not serve it for the region.
    """
    if metric.endswith("_proportion"):
        with_storage = metric.startswith("renewable_with_storage")
        name = "generation_renewable_with_storage" if with_storage else "generation_renewable"
        num = _region_base(config, region, name, t, units)
        return num, _region_base(config, region, "demand_gross", t, units)
    if metric.endswith("_energy"):
        return _region_base(config, region, metric.removesuffix("_energy"), t, units) / 12.0, None
    return _region_base(config, region, metric, t, units), None


def _needs_units(metrics: Sequence[str]) -> bool:
    return any(m.startswith(("generation_renewable", "renewable")) for m in metrics)


def _combine_regions(
    metric: str, per_region: dict[str, tuple[np.ndarray, np.ndarray | None]]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The whole network: unweighted mean of prices, else sums (of both ratio parts)."""
    values = np.vstack([v for v, _ in per_region.values()])
    with np.errstate(invalid="ignore"):
        if metric == "price":
            return np.nanmean(values, axis=0), None
        total = np.where(np.isnan(values).all(axis=0), np.nan, np.nansum(values, axis=0))
    dens = [d for _, d in per_region.values() if d is not None]
    return total, (np.sum(dens, axis=0) if dens else None)


def _bucket_values(
    metric: str, values: np.ndarray, den: np.ndarray | None, buckets: Buckets
) -> np.ndarray:
    """Aggregate one result to its buckets: ratio of sums × 100 for a proportion (NaN
    without a denominator), sum for energy, else mean."""
    if den is not None:
        num = aggregate(values, buckets, "sum")
        total = aggregate(den, buckets, "sum")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, num / total * 100.0, np.nan)
    return aggregate(values, buckets, "sum" if metric.endswith("_energy") else "mean")


def _market_series(
    config: SimulatorConfig,
    metric: str,
    regions: list[str],
    grouping: str,
    t: np.ndarray,
    units: UnitSums | None,
) -> list[tuple[str, dict[str, Any], np.ndarray, np.ndarray | None]]:
    """(name, columns, 5-min values, denominator) per result of one metric."""
    per_region: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for region in regions:
        try:
            per_region[region] = market_region_values(config, region, metric, t, units)
        except KeyError:
            continue
    if not per_region:
        return []
    if grouping == "network_region":
        return [(f"{metric}_{r}", {"region": r}, v, d) for r, (v, d) in per_region.items()]
    total, den = _combine_regions(metric, per_region)
    return [(f"{metric}_total", {}, total, den)]


def handle_market(config: SimulatorConfig, plan: str, network: str, q: Query) -> Response:
    errors: list[dict[str, Any]] = []
    metrics = q.list("metrics")
    if not metrics:
        errors.append(missing_error("metrics"))
    else:
        _validate_enum_list(q, "metrics", ALL_METRICS, errors)
    interval = _validate_enum(q, "interval", INTERVALS, errors) or "5m"
    grouping = _validate_enum(q, "primary_grouping", PRIMARY_GROUPINGS, errors) or "network"
    region_filter = q.one("network_region")
    start = _validate_date(q, "date_start", errors)
    end = _validate_date(q, "date_end", errors)
    if errors:
        raise HttpError(422, {"detail": errors})
    offset_h = check_network(config, network)
    bad = [m for m in metrics if m not in MARKET_METRICS]
    if bad:
        raise oe_error(400, f"Unsupported metrics: {', '.join(bad)}", config.version)
    # A forecast reaches past now: a request for it alone is not cut at the settled interval.
    clip = any(m != "solar_rooftop_forecast" for m in metrics)
    start, end = resolve_window(config, plan, interval, start, end, offset_h, True, clip)
    nodata = oe_error(
        404,
        f"No market data available for network {network} in the specified time range",
        config.version,
    )
    t = window_stamps(start, end, offset_h)
    regions = _network_regions(config, network)
    if region_filter is not None:
        grouping = "network_region"
        regions = [r for r in regions if r == region_filter]
    if not len(t) or not regions:
        raise nodata
    units = None
    if _needs_units(metrics):
        units = sum_unit_series(config, network, ["power", DISCHARGE], t, offset_h, region_filter)
    buckets = make_buckets(t, interval, offset_h)
    stamps = format_stamps(buckets.labels, offset_h)
    data = []
    for metric in dict.fromkeys(metrics):
        results = []
        for name, columns, raw, den in _market_series(config, metric, regions, grouping, t, units):
            values = clean(_bucket_values(metric, raw, den, buckets))
            present = np.flatnonzero(~np.isnan(values))
            if len(present):
                lo, hi = int(present[0]), int(present[-1])
                results.append(
                    {"name": name, "columns": columns, "data": point_list(stamps, values, lo, hi)}
                )
        if results:
            series = series_envelope(network, metric, interval, offset_h, results, [])
            if metric == "solar_rooftop_forecast":
                series["forecast_run_time"] = _forecast_run_time(config, offset_h)
            data.append(series)
    if not data:
        raise nodata
    return Response(200, timeseries_body(config, data))


def _forecast_run_time(config: SimulatorConfig, offset_h: int) -> str:
    """The issue time of the newest (simulated) forecast run: the last half hour."""
    now = config.clock().astimezone(timezone(timedelta(hours=offset_h)))
    run = now.replace(minute=now.minute - now.minute % 30, second=0, microsecond=0)
    return run.isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------
# GET /data/network/{network}


def _secondary_value(secondary: str, fueltech: str, status: str) -> str | bool:
    if secondary == "fueltech":
        return fueltech
    if secondary == "fueltech_group":
        return SERVER_FUELTECH_GROUP.get(fueltech, "other")
    if secondary == "status":
        return status
    return fueltech in RENEWABLE_FUELTECHS  # renewable


@dataclass(frozen=True)
class NetworkGrouping:
    """How network data groups and filters: ``primary`` is ``network`` or
    ``network_region``; ``secondary`` None or a column; filters by fueltech or group."""

    primary: str
    secondary: str | None
    fueltechs: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def keeps(self, fueltech: str) -> bool:
        if self.fueltechs and fueltech not in self.fueltechs:
            return False
        return not self.groups or any(fueltech_in_group(fueltech, g) for g in self.groups)

    @property
    def groupings(self) -> list[str]:
        return [self.primary, self.secondary] if self.secondary else []

    def result_key(self, region: str, fueltech: str, status: str) -> tuple[Any, ...]:
        parts: list[Any] = [region] if self.primary == "network_region" else []
        if self.secondary:
            parts.append(_secondary_value(self.secondary, fueltech, status))
        return tuple(parts)

    def name_and_columns(self, metric: str, key: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
        if not key:
            return f"{metric}_total", {}
        columns: dict[str, Any] = {}
        if self.primary == "network_region":
            columns["region"] = key[0]
        if self.secondary:
            columns[self.secondary] = key[-1]
        return f"{metric}_" + "|".join(str(k) for k in key), columns


def _parse_network_grouping(q: Query, errors: list[dict[str, Any]]) -> NetworkGrouping:
    primary = _validate_enum(q, "primary_grouping", PRIMARY_GROUPINGS, errors) or "network"
    secondary = _validate_enum(q, "secondary_grouping", NETWORK_SECONDARY_GROUPINGS, errors)
    fueltechs = _validate_enum_list(q, "fueltech", FUELTECHS, errors)
    groups = _validate_enum_list(q, "fueltech_group", NETWORK_FUELTECH_GROUPS, errors)
    if q.one("network_region") is not None:
        primary = "network_region"
    # A fueltech (group) filter forces its grouping (oe-api.md §5).
    if secondary is None and fueltechs:
        secondary = "fueltech"
    elif secondary is None and groups:
        secondary = "fueltech_group"
    return NetworkGrouping(primary, secondary, tuple(fueltechs), tuple(groups))


def _network_results(
    metric: str, sums: UnitSums, grouping: NetworkGrouping, buckets: Buckets, stamps: list[str]
) -> list[dict[str, Any]]:
    """The results of one metric: unit sums merged per result key, aggregated to buckets."""
    merged: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
    for skey, total in sums.sums.items():
        m, region, ft, status = skey
        if m != metric or not grouping.keeps(ft):
            continue
        key = grouping.result_key(region, ft, status)
        prev_total, prev_count = merged.get(key, (0.0, 0))
        merged[key] = (prev_total + total, prev_count + sums.counts[skey])
    how = "mean" if metric in ("power", "storage_battery") else "sum"
    results = []
    for key in sorted(merged, key=lambda k: tuple(map(str, k))):
        total, count = merged[key]
        values = clean(aggregate(np.where(count > 0, total, np.nan), buckets, how))
        present = np.flatnonzero(~np.isnan(values))
        if not len(present):
            continue
        name, columns = grouping.name_and_columns(metric, key)
        data = point_list(stamps, values, int(present[0]), int(present[-1]))
        results.append({"name": name, "columns": columns, "data": data})
    return results


def handle_network_data(config: SimulatorConfig, plan: str, network: str, q: Query) -> Response:
    errors: list[dict[str, Any]] = []
    metrics = q.list("metrics")
    if not metrics:
        errors.append(missing_error("metrics"))
    else:
        _validate_enum_list(q, "metrics", ALL_METRICS, errors)
    interval = _validate_enum(q, "interval", INTERVALS, errors) or "5m"
    grouping = _parse_network_grouping(q, errors)
    region_filter = q.one("network_region")
    start = _validate_date(q, "date_start", errors)
    end = _validate_date(q, "date_end", errors)
    if errors:
        raise HttpError(422, {"detail": errors})
    offset_h = check_network(config, network)
    bad = [m for m in metrics if m not in FACILITY_METRICS]
    if bad:
        raise oe_error(400, f"Unsupported metrics: {', '.join(bad)}", config.version)
    start, end = resolve_window(config, plan, interval, start, end, offset_h, check_order=True)
    nodata = oe_error(
        404, f"No data available for network {network} in the specified time range", config.version
    )
    t = window_stamps(start, end, offset_h)
    if not len(t):
        raise nodata
    metrics = list(dict.fromkeys(metrics))
    sums = sum_unit_series(config, network, metrics, t, offset_h, region_filter)
    buckets = make_buckets(t, interval, offset_h)
    stamps = format_stamps(buckets.labels, offset_h)
    data = []
    for metric in metrics:
        results = _network_results(metric, sums, grouping, buckets, stamps)
        if results:
            data.append(
                series_envelope(network, metric, interval, offset_h, results, grouping.groupings)
            )
    if not data:
        raise nodata
    return Response(200, timeseries_body(config, data))


# ---------------------------------------------------------------------------------------
# GET /me

# Per plan: requests per rate-limit window (a minute); credits a day are in oesim.credits.
PLAN_RATE_PER_MINUTE = {"COMMUNITY": 120, "ACADEMIC": 120, "PRO": 300, "ENTERPRISE": 600}


def _utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def handle_me(config: SimulatorConfig, plan: str, key: str) -> Response:
    """The key's profile: roles ``["anonymous"]`` as the server gives every non-admin key,
    a full rate-limit window (not enforced) resetting at the next UTC minute, and the key's
    credits left today (this request's included; all of the plan's when uncounted),
    resetting at the next UTC midnight of the simulated clock (oesim.credits)."""
    clock = config.clock()
    now = clock.astimezone(UTC).replace(second=0, microsecond=0)
    limit = PLAN_RATE_PER_MINUTE.get(plan, 120)
    ledger = config.credits
    sim_s = clock.timestamp()
    credits = plan_credits(plan) if ledger is None else ledger.remaining(key, plan, sim_s)
    reset = datetime.fromtimestamp(next_reset(sim_s), UTC)
    body = {
        "version": config.version,
        "created_at": created_at(clock),
        "success": True,
        "data": {
            "id": "user_simulator",
            "full_name": "OE Simulator User",
            "email": "simulator@example.invalid",
            "plan": plan,
            "roles": ["anonymous"],
            "rate_limit": {
                "limit": limit,
                "remaining": limit,
                "reset": _utc_stamp(now + timedelta(minutes=1)),
            },
            "credits": {"remaining": credits, "reset": _utc_stamp(reset)},
        },
    }
    return Response(200, dump_json(body))


# ---------------------------------------------------------------------------------------
# Routing


def split_route(path: str) -> str:
    """Strip the optional ``/v4`` prefix: ``/v4/me`` and ``/me`` are the same route."""
    if path == "/v4":
        return "/"
    if path.startswith("/v4/"):
        return path[3:]
    return path


def match_route(route: str) -> tuple[str, str | None] | None:
    """(endpoint name, network) or None for an unknown route."""
    if route in ("/facilities", "/facilities/"):
        return "facilities", None
    if route in ("/me", "/me/"):
        return "me", None
    parts = route.strip("/").split("/")
    if len(parts) == 3 and parts[2]:
        if parts[:2] == ["data", "facilities"]:
            return "facility_data", parts[2]
        if parts[:2] == ["data", "network"]:
            return "network_data", parts[2]
        if parts[:2] == ["market", "network"]:
            return "market", parts[2]
    return None


def handle_api(
    config: SimulatorConfig, method: str, path: str, query: str, headers: Mapping[str, str]
) -> Response:
    """Answer one API request (pure apart from ``config.clock`` and the dataset)."""
    matched = match_route(split_route(path))
    if matched is None:
        return Response(404, dump_json({"detail": "Not Found"}))
    if method not in ("GET", "HEAD"):
        return Response(405, dump_json({"detail": "Method Not Allowed"}))
    endpoint, network = matched
    q = Query(query)
    try:
        required = endpoint in ("facilities", "facility_data", "me") or not config.anonymous_market
        plan = authenticate(config, headers, required)
        if endpoint == "facilities":
            return handle_facilities(config, q)
        if endpoint == "me":
            return handle_me(config, plan, bearer_key(headers))
        assert network is not None
        if endpoint == "facility_data":
            return handle_facility_data(config, plan, network, q)
        if endpoint == "market":
            return handle_market(config, plan, network, q)
        return handle_network_data(config, plan, network, q)
    except HttpError as exc:
        return Response(exc.status, dump_json(exc.payload))
    except Exception:
        log.exception("simulator error on %s", path)
        return Response(
            500,
            dump_json(
                oe_error_payload(
                    "An internal server error occurred. Please try again later.", config.version
                )
            ),
        )


def fault_response(
    config: SimulatorConfig, rule: FaultRule, path: str, query: str
) -> Response | None:
    """The response an immediate fault replaces the real answer with (None for slow/truncated)."""
    v = config.version
    kind = rule.kind
    if kind == "500":
        return Response(500, dump_json(oe_error_payload("Error executing query", v)))
    if kind == "503":
        return Response(503, dump_json(oe_error_payload("Maintenance Mode", v)))
    if kind == "401":
        return Response(401, dump_json(oe_error_payload("Authentication failed", v)))
    if kind == "502":
        return Response(502, HTML_502.encode(), content_type="text/html")
    if kind == "403":
        return Response(403, HTML_403.encode(), content_type="text/html")
    if kind == "504":
        return Response(504, HTML_504.encode(), content_type="text/html")
    if kind == "429":
        seconds = int(rule.seconds if rule.seconds is not None else config.retry_after)
        return Response(
            429,
            dump_json(oe_error_payload("Rate limit exceeded", v)),
            headers=(("Retry-After", str(seconds)),),
        )
    if kind == "416":
        q = Query(query)
        return Response(
            416,
            dump_json(
                oe_error_payload(_nodata_text(q.list("facility_code"), q.list("unit_code")), v)
            ),
        )
    return None
