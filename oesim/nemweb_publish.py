"""When each NEMweb 5-minute file is published, on the simulated clock, and its faults.

The file for the interval ending at ``T`` appears at ``T + PUBLISH_DELAY_S`` plus a jitter
of 0 to ``PUBLISH_JITTER_S`` whole seconds, a pure function of (seed, T). Current lists the
files published in the last ``CURRENT_S``. Faults, armed for the next N intervals still to
be published, change that: ``late`` (published ``seconds`` later), ``missing`` (never in
Current; the Archive has it), ``replaced`` (published as version 0, whose SCADA values are
a little off, then replaced by version 1 ``REPLACE_AFTER_S`` later: the first name leaves
the index, as when AEMO republishes). Thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from oesim.nem_series import hash_uniform, stable_key

FIVE_MIN_S = 300
DAY_S = 86_400
PUBLISH_DELAY_S = 60
PUBLISH_JITTER_S = 45
CURRENT_S = 3 * DAY_S  # Current keeps about three days
REPLACE_AFTER_S = 60
LATE_S = 240.0
SCHEDULE_FAULTS = ("late", "missing", "replaced")


def publish_times(seed: int, t: np.ndarray) -> np.ndarray:
    """Epoch seconds at which the files of the intervals ending at ``t`` appear (no fault)."""
    t = np.asarray(t, dtype=np.int64)
    jitter = np.floor(hash_uniform(stable_key(seed, "nemweb"), t // FIVE_MIN_S) * 46)
    return t + PUBLISH_DELAY_S + np.minimum(jitter, PUBLISH_JITTER_S).astype(np.int64)


@dataclass(frozen=True)
class IntervalFault:
    kind: str  # one of SCHEDULE_FAULTS
    seconds: int = 0  # how late, for "late"


@dataclass(frozen=True)
class Listed:
    """One file in Current now: its interval, version (0, or 1 once replaced) and the
    epoch second it appeared."""

    t: int
    version: int
    appeared: int
    replaced: bool = False  # version 0 of an interval that is to be replaced


class Schedule:
    """The publication times of one simulator's files and the faults armed on them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._faults: dict[int, IntervalFault] = {}

    def arm(self, kind: str, count: int, now: float, seconds: float | None = None) -> list[int]:
        """Fault the next ``count`` intervals not yet published (and not faulted already);
        return their interval-end stamps."""
        if kind not in SCHEDULE_FAULTS:
            raise ValueError(f"unknown NEMweb fault {kind!r}: use {', '.join(SCHEDULE_FAULTS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        # ``seconds``: how late a late file is, or how long a replaced one stays up.
        default = LATE_S if kind == "late" else REPLACE_AFTER_S
        fault = IntervalFault(kind, int(default if seconds is None else seconds))
        with self._lock:
            t = (int(now) - PUBLISH_DELAY_S - PUBLISH_JITTER_S) // FIVE_MIN_S * FIVE_MIN_S
            chosen: list[int] = []
            while len(chosen) < count:
                if t not in self._faults and int(publish_times(self.seed, [t])[0]) > now:
                    self._faults[t] = fault
                    chosen.append(t)
                t += FIVE_MIN_S
            return chosen

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def faults(self) -> dict[int, IntervalFault]:
        with self._lock:
            return dict(self._faults)

    def current(self, now: float) -> list[Listed]:
        """The files Current lists at ``now``, ascending by interval."""
        lo = (int(now) - CURRENT_S) // FIVE_MIN_S * FIVE_MIN_S + FIVE_MIN_S
        t = np.arange(lo, int(now) + 1, FIVE_MIN_S, dtype=np.int64)
        at = publish_times(self.seed, t)
        faults = self.faults()
        listed = []
        for stamp, appear in zip(t.tolist(), at.tolist(), strict=True):
            fault = faults.get(stamp)
            entry = (
                Listed(stamp, 0, appear) if fault is None else _faulted(stamp, appear, fault, now)
            )
            if entry is not None and entry.appeared <= now:
                listed.append(entry)
        return listed

    def find(self, t: int, version: int, now: float) -> Listed | None:
        """The listed file of interval ``t`` in ``version`` at ``now``, if Current has it."""
        for entry in self.current(now)[-1::-1]:
            if entry.t == t:
                return entry if entry.version == version else None
            if entry.t < t:
                break
        return None

    def final_version(self, t: int) -> int:
        """The version the Archive keeps: the replacement where there is one."""
        fault = self.faults().get(t)
        return 1 if fault is not None and fault.kind == "replaced" else 0


def _faulted(t: int, appear: int, fault: IntervalFault, now: float) -> Listed | None:
    if fault.kind == "missing":
        return None
    if fault.kind == "late":
        return Listed(t, 0, appear + fault.seconds)
    if now < appear + fault.seconds:
        return Listed(t, 0, appear, replaced=True)
    return Listed(t, 1, appear + fault.seconds)


def last_drop(now: float) -> int:
    """When Current last dropped its oldest file (the index changed without a new file)."""
    return (int(now) - CURRENT_S) // FIVE_MIN_S * FIVE_MIN_S + CURRENT_S
