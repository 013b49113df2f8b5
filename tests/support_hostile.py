"""Hostile MQTT traffic that anyone on an open broker can send: for tests and the soak.

Every message here must be rejected, or counted and not kept, by the dashboard: timestamps at
the ends of the calendar, off the grid, before the NEM or far in the future; values beyond
every bound; invented facility ids by the thousand; garbage; payloads of megabytes; and
restart statuses from publishers nobody knows, which clear nothing while no data is held.
None of it may move the figures of a real stream published beside it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from nemlive.common.events import (
    CO2_T_BOUNDS,
    DEMAND_MW_BOUNDS,
    POWER_MW_BOUNDS,
    PRICE_BOUNDS,
    StatusEvent,
    encode_facility_event,
    encode_status,
)

BAD_TIMESTAMPS = [
    "9999-12-31T23:00:00+00:00",
    "9999-12-31T23:55:00-23:59",
    "2200-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+10:00",
    "1998-12-12T23:55:00+10:00",
    "1970-01-01T00:00:00+00:00",
    "2025-10-15T10:04:00+10:00",
    "2025-10-15T10:05:00.5+10:00",
    "2025-10-15T10:05:00+05:17",
    "2025-10-15T10:05:00",
]
MEGABYTES = b"{" + b" " * (4 * 1024 * 1024) + b"}"


def far_future(rng: random.Random) -> str:
    """A timestamp on the grid, 8 days to 170 years ahead: schema-valid, forged by its date."""
    ahead = timedelta(days=rng.randint(8, 170 * 365))
    when = (datetime.now(UTC) + ahead).replace(second=0, microsecond=0)
    return (when - timedelta(minutes=when.minute % 5)).isoformat()


def hostile_messages(
    base: str,
    known: list[str],
    rng: random.Random,
    *,
    oversize: bool = True,
    statuses: bool = True,
) -> Iterator[tuple[str, bytes]]:
    """An endless mix of (topic, payload) pairs, each one of the kinds in the module doc.

    ``statuses=False`` leaves out the forged restarts: once real data is held, a forged
    restart may clear the windows (at most once a minute), which is what a status is for.
    """
    invented = 0
    while True:
        kind = rng.randrange(8)
        fid = rng.choice(known)
        if kind == 0:
            yield _facility(base, fid, rng.choice(BAD_TIMESTAMPS), 100.0, 1.0)
        elif kind == 1:
            yield _facility(base, fid, far_future(rng), 100.0, 1.0)
        elif kind == 2:
            invented += 1
            ident = f"INVENTED_{rng.getrandbits(40):x}_{invented}"
            yield _facility(base, ident, "2025-10-15T10:05:00+10:00", 1.0, 0.0)
        elif kind == 3:
            lo, hi = rng.choice([POWER_MW_BOUNDS, CO2_T_BOUNDS])
            key = "power_mw" if (lo, hi) == POWER_MW_BOUNDS else "co2_tonnes"
            body = {"facility_id": fid, "timestamp": "2025-10-15T10:05:00+10:00"}
            body |= {"power_mw": 1.0, "co2_tonnes": 1.0, key: rng.choice([lo - 1, hi + 1e9])}
            yield f"{base}/facility/{fid}", json.dumps(body).encode()
        elif kind == 4:
            lo, hi = rng.choice([PRICE_BOUNDS, DEMAND_MW_BOUNDS])
            body = {
                "region_id": "SA1",
                "timestamp": rng.choice(BAD_TIMESTAMPS[:6]),
                "price_dmwh": rng.choice([lo, hi]),
                "demand_mw": 1.0,
            }
            yield f"{base}/market/SA1", json.dumps(body).encode()
        elif kind == 5:
            yield f"{base}/facility/{fid}", rng.randbytes(rng.randrange(1, 200))
        elif kind == 6 and oversize and rng.random() < 0.02:
            yield f"{base}/facility/{fid}", MEGABYTES
        elif not statuses:
            yield _facility(base, fid, far_future(rng), 1.0, 1.0)
        else:
            status = StatusEvent(
                state="online",
                client_id=f"forger-{rng.getrandbits(32):x}",
                position=rng.choice(["2001-01-01T00:05:00+10:00", far_future(rng)]),
            )
            yield f"{base}/status", encode_status(status)


def _facility(base: str, fid: str, ts: str, mw: float, t: float) -> tuple[str, bytes]:
    return f"{base}/facility/{fid}", encode_facility_event(fid, ts, mw, t)


def take(stream: Iterator[tuple[str, bytes]], n: int) -> list[tuple[str, bytes]]:
    return [next(stream) for _ in range(n)]
