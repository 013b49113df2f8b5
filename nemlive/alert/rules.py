"""The rules file (TOML) -> checked rules and sinks (pure; docs/alerts.md).

    [[rule]]
    name = "sa-price-spike"
    kind = "price_above"
    region = "SA1"          # or "*": each region
    threshold = 1000        # $/MWh
    for_intervals = 1       # default 1
    clear_intervals = 1     # default 1

    [[sink]]
    kind = "webhook"
    url = "https://ntfy.sh/my-topic"
    format = "text"         # or "json" (default)

A bad file raises :class:`RulesError`: one line naming the rule and the field, and what to do.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nemlive.common.errors import ConfigError
from nemlive.common.events import ALERT_NAME_PATTERN, REGIONS

Stream = Literal["market", "facility"]
MARKET_KINDS = ("price_above", "price_below", "demand_above")
FACILITY_KINDS = ("facility_trip", "renewable_share_above", "renewable_share_below")
KINDS = (*MARKET_KINDS, *FACILITY_KINDS, "stream_stale")
DEFAULT_EXCLUDE_FUELS = ("solar", "wind", "battery", "pumps")
DEFAULT_RATE_LIMIT = 20  # firings per rule per evaluated interval
NEM_SUBJECT = "NEM"  # the subject of the renewable share rules
_NAME = re.compile(ALERT_NAME_PATTERN)

# The fields each kind takes beyond the common ones; None marks a required one.
_COMMON = {"name", "kind", "for_intervals", "clear_intervals", "rate_limit"}
_FIELDS: dict[str, dict[str, object]] = {
    "price_above": {"region": None, "threshold": None},
    "price_below": {"region": None, "threshold": None},
    "demand_above": {"region": None, "threshold": None},
    "facility_trip": {"from_mw": 100.0, "to_mw": 5.0, "exclude_fuels": DEFAULT_EXCLUDE_FUELS},
    "renewable_share_above": {"threshold": None},
    "renewable_share_below": {"threshold": None},
    "stream_stale": {"minutes": None},
}


class RulesError(ConfigError):
    """A rules file that cannot be used; the message names the rule and the field."""


@dataclass(frozen=True)
class Rule:
    """One checked rule. ``threshold``: $/MWh, MW or percent; for facility_trip ``to_mw``,
    for stream_stale ``minutes``."""

    name: str
    kind: str
    threshold: float
    region: str = "*"
    from_mw: float = 100.0
    to_mw: float = 5.0
    exclude_fuels: frozenset[str] = frozenset(DEFAULT_EXCLUDE_FUELS)
    for_intervals: int = 1
    clear_intervals: int = 1
    rate_limit: int = DEFAULT_RATE_LIMIT

    @property
    def stream(self) -> Stream | None:
        """The stream whose intervals the rule is evaluated on (None: stream_stale, on the clock)."""
        if self.kind in MARKET_KINDS:
            return "market"
        if self.kind in FACILITY_KINDS:
            return "facility"
        return None


@dataclass(frozen=True)
class Sink:
    """A webhook that receives every alert the rules fire and resolve."""

    url: str
    format: Literal["json", "text"] = "json"


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    sinks: tuple[Sink, ...]


def load_rules(path: Path) -> RuleSet:
    """Read and check a rules file; RulesError (exit 2) with one line on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(
            f"rules file {path} not found: copy alerts.example.toml to {path} or pass --rules"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"rules file {path} is unreadable ({exc})") from None
    return parse_rules(text, str(path))


def parse_rules(text: str, where: str = "rules") -> RuleSet:
    """The rules and sinks of a TOML text; RulesError naming the rule and the field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{where}: not valid TOML ({exc})") from None
    unknown = set(doc) - {"rule", "sink"}
    if unknown:
        raise RulesError(f"{where}: unknown table {sorted(unknown)[0]!r}: use [[rule]] or [[sink]]")
    raw_rules = _table_list(doc, "rule", where)
    if not raw_rules:
        raise RulesError(f"{where}: no [[rule]]: add at least one (see alerts.example.toml)")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules, start=1):
        rule = parse_rule(raw, f"{where}: rule {i}")
        if rule.name in seen:
            raise RulesError(f"{where}: rule {rule.name!r}: field 'name': used twice; rename one")
        seen.add(rule.name)
        rules.append(rule)
    sinks = tuple(
        parse_sink(raw, f"{where}: sink {i}")
        for i, raw in enumerate(_table_list(doc, "sink", where), start=1)
    )
    return RuleSet(tuple(rules), sinks)


def _table_list(doc: Mapping[str, object], key: str, where: str) -> list[Mapping[str, object]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RulesError(f"{where}: {key!r} must be an array of tables: write [[{key}]]")
    return value


def parse_rule(raw: Mapping[str, object], where: str) -> Rule:
    """One ``[[rule]]`` table -> Rule; ``where`` names it until its name is known."""
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RulesError(
            f"{where}: field 'name': "
            + ("missing" if name is None else f"{name!r} is not a name")
            + ": use letters, digits, '_', '-' or '.' (at most 64, no '/')"
        )
    at = f"rule {name!r}"
    kind = raw.get("kind")
    if kind not in _FIELDS:
        raise RulesError(
            f"{at}: field 'kind': "
            + ("missing" if kind is None else f"unknown kind {kind!r}")
            + f": use one of {', '.join(KINDS)}"
        )
    fields = _FIELDS[str(kind)]
    extra = set(raw) - _COMMON - set(fields)
    if extra:
        raise RulesError(f"{at}: field {sorted(extra)[0]!r}: not a field of kind {kind!r}")
    for key, default in fields.items():
        if default is None and key not in raw:
            raise RulesError(f"{at}: field {key!r}: missing; kind {kind!r} needs it")
    values: dict[str, object] = {
        "name": name,
        "kind": kind,
        "for_intervals": _count(raw, "for_intervals", 1, at),
        "clear_intervals": _count(raw, "clear_intervals", 1, at),
        "rate_limit": _count(raw, "rate_limit", DEFAULT_RATE_LIMIT, at),
    }
    if "region" in fields:
        values["region"] = _region(raw.get("region"), at)
    if kind == "facility_trip":
        values["from_mw"] = _number(raw, "from_mw", 100.0, at)
        values["to_mw"] = values["threshold"] = _number(raw, "to_mw", 5.0, at)
        values["exclude_fuels"] = _fuels(raw.get("exclude_fuels", DEFAULT_EXCLUDE_FUELS), at)
    elif kind == "stream_stale":
        values["threshold"] = _number(raw, "minutes", None, at)
        if values["threshold"] <= 0:  # type: ignore[operator]
            raise RulesError(f"{at}: field 'minutes': use more than 0")
    else:
        values["threshold"] = _number(raw, "threshold", None, at)
    return Rule(**values)  # type: ignore[arg-type]


def _number(raw: Mapping[str, object], key: str, default: float | None, at: str) -> float:
    value = raw.get(key, default)
    # bool is an int in Python, not a threshold.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RulesError(f"{at}: field {key!r}: {value!r} is not a number: write e.g. {key} = 300")
    return float(value)


def _count(raw: Mapping[str, object], key: str, default: int, at: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
        raise RulesError(f"{at}: field {key!r}: {value!r}: use a whole number from 1 to 10000")
    return value


def _region(value: object, at: str) -> str:
    if value == "*" or value in REGIONS:
        return str(value)
    raise RulesError(f"{at}: field 'region': {value!r}: use one of {', '.join(REGIONS)} or '*'")


def _fuels(value: object, at: str) -> frozenset[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{at}: field 'exclude_fuels': use a list of fuel groups, e.g. ['solar']")
    return frozenset(value)


def parse_sink(raw: Mapping[str, object], where: str) -> Sink:
    """One ``[[sink]]`` table -> Sink (only webhooks: MQTT is always on)."""
    if raw.get("kind") != "webhook":
        raise RulesError(f"{where}: field 'kind': {raw.get('kind')!r}: use 'webhook'")
    extra = set(raw) - {"kind", "url", "format"}
    if extra:
        raise RulesError(f"{where}: field {sorted(extra)[0]!r}: not a field of a webhook")
    url = raw.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
        raise RulesError(f"{where}: field 'url': use an http:// or https:// URL")
    fmt = raw.get("format", "json")
    if fmt not in ("json", "text"):
        raise RulesError(f"{where}: field 'format': {fmt!r}: use 'json' or 'text'")
    return Sink(url=url, format=fmt)  # type: ignore[arg-type]
