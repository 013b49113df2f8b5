"""A direct reference implementation of the alert rules over consolidate.csv, and helpers to
run the alerter as a program (tests/test_alerts_e2e.py, bench/alerts.py).

Written from docs/alerts.md, not from nemlive/alert/evaluate.py: each rule's condition per
interval and subject, then runs over the present values (a missing value is skipped), at most
``rate_limit`` firings per rule and interval.
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nemlive.alert.rules import Rule
from nemlive.common import lookups
from nemlive.common.events import REGIONS
from tests.conftest import PYTHON, ROOT, clean_subprocess_env

ALERTS = ROOT / "alerts.py"
RENEWABLE = {"bioenergy", "hydro", "wind", "solar"}
STORAGE = {"battery", "pumps"}


@dataclass
class Interval:
    ts: int
    market: dict[str, tuple[float | None, float | None]]  # region -> (price, demand)
    power: dict[str, float]  # facility -> MW, present values only


def read_series(path: Path) -> list[Interval]:
    """consolidate.csv as the publisher sends it: one Interval per row, in file order."""

    def num(text: str) -> float | None:
        return float(text) if text else None

    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ts = int(datetime.fromisoformat(row["timestamp"]).timestamp())
            market = {
                r: (num(row.get(f"price_{r}", "")), num(row.get(f"demand_{r}", "")))
                for r in REGIONS
            }
            power = {
                c[len("power_") :]: float(v) for c, v in row.items() if c.startswith("power_") and v
            }
            out.append(Interval(ts, market, power))
    return out


def fuels_of(path: Path = lookups.FACILITIES_CSV) -> dict[str, str]:
    return {fid: lookups.fuel_group_of(f) for fid, f in lookups.load_facilities(path).items()}


def _share(power: dict[str, float], fuels: dict[str, str]) -> float | None:
    gen = {f: p for f, p in power.items() if f in fuels and fuels[f] not in STORAGE and p > 0}
    total = sum(gen.values())
    if total <= 0:
        return None
    return 100.0 * sum(p for f, p in gen.items() if fuels[f] in RENEWABLE) / total


def conditions(
    rule: Rule, series: list[Interval], fuels: dict[str, str]
) -> list[tuple[int, dict[str, tuple[bool | None, float | None]]]]:
    """Per interval: subject -> (condition, value)."""
    out = []
    previous: Interval | None = None
    for iv in series:
        found: dict[str, tuple[bool | None, float | None]] = {}
        if rule.kind in ("price_above", "price_below", "demand_above"):
            col = 1 if rule.kind == "demand_above" else 0
            for region in REGIONS if rule.region == "*" else (rule.region,):
                v = iv.market[region][col]
                held = (
                    None
                    if v is None
                    else (v < rule.threshold if rule.kind.endswith("below") else v > rule.threshold)
                )
                found[region] = (held, v)
        elif rule.kind == "facility_trip":
            for fid, fuel in fuels.items():
                if fuel in rule.exclude_fuels:
                    continue
                now = iv.power.get(fid)
                before = (
                    previous.power.get(fid) if previous and previous.ts == iv.ts - 300 else None
                )
                held = (
                    None
                    if now is None or before is None
                    else before >= rule.from_mw and now <= rule.to_mw
                )
                found[fid] = (held, now)
        elif rule.kind.startswith("renewable_share"):
            v = _share(iv.power, fuels)
            held = (
                None
                if v is None
                else (v > rule.threshold if rule.kind.endswith("above") else v < rule.threshold)
            )
            found["NEM"] = (held, v)
        out.append((iv.ts, found))
        previous = iv
    return out


def reference_alerts(
    rules: Sequence[Rule], series: list[Interval], fuels: dict[str, str]
) -> list[tuple[str, str, str, int, int]]:
    """(rule, subject, state, since, at) of every alert, in interval order."""
    out = []
    for rule in rules:
        if rule.kind == "stream_stale":
            continue  # on the wall clock: a replay never pauses 15 minutes
        history: dict[str, list[bool]] = {}
        firing: dict[str, int] = {}
        for ts, found in conditions(rule, series, fuels):
            fired = 0
            for subject in sorted(found):
                held, _value = found[subject]
                if held is None:
                    continue
                past = history.setdefault(subject, [])
                past.append(held)
                k, c = rule.for_intervals, rule.clear_intervals
                if subject not in firing and len(past) >= k and all(past[-k:]):
                    if fired < rule.rate_limit:
                        fired += 1
                        firing[subject] = ts
                        out.append((rule.name, subject, "firing", ts, ts))
                elif subject in firing and len(past) >= c and not any(past[-c:]):
                    out.append((rule.name, subject, "resolved", firing.pop(subject), ts))
    return sorted(out, key=lambda a: (a[4], a[0], a[1]))


def start_alerter(args: Sequence[str], **env: str) -> subprocess.Popen:
    """alerts.py as a subprocess; stderr captured (read it with StderrLines)."""
    return subprocess.Popen(
        [PYTHON, str(ALERTS), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_subprocess_env(**env),
        cwd=ROOT,
    )
