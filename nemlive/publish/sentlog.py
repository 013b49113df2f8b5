"""What a live publisher has sent, and what it has still to send (pure).

A live cache changes under the publisher: new rows come at the end, the oldest go at the
start (the extractor keeps ``--keep`` days), and cells of rows already sent fill in later
(facility data arrives after market data). So the publisher remembers every ``(id, timestamp)``
it has sent and sends each value that is not among them, once.

:class:`SentLog` keeps, per stream key (``facility/<ID>``, ``market/<REGION>``,
``interchange/<REGION>``), the sent timestamps as sorted runs of consecutive 5-minute stamps:
a week of 420 facilities is a few hundred runs, not 850,000 pairs, and the checkpoint stores
them as they are. :meth:`SentLog.trim` forgets what lies before the cache's first row, so the
log stays as small as the cache's window.

:func:`plan_outgoing` walks the cache's rows in time order and yields, per row with anything
new, its messages in the contract's order (facilities, interchange, then market:
docs/contracts.md §3), with the CSV's timestamps as they are.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nemlive.common.events import (
    PayloadTemplate,
    build_facility_topic,
    build_interchange_topic,
    build_market_topic,
)
from nemlive.common.nemtime import INTERVAL_S
from nemlive.publish.replaytable import Message, ReplayTable

FACILITY, MARKET, INTERCHANGE = "facility", "market", "interchange"


def stream_key(kind: str, ident: str) -> str:
    """``facility/BAYSW``: the key of one id's stream (its topic below the base)."""
    return f"{kind}/{ident}"


class SentLog:
    """Sent timestamps (epoch s) per stream key, as sorted, disjoint, non-adjacent runs
    ``[first, last]`` of 5-minute stamps."""

    def __init__(self, runs: Mapping[str, Sequence[Sequence[int]]] | None = None) -> None:
        self._runs: dict[str, list[list[int]]] = {}
        for key, key_runs in (runs or {}).items():
            checked = [[int(a), int(b)] for a, b in key_runs]
            _check_runs(key, checked)
            if checked:
                self._runs[key] = checked

    def add(self, key: str, epoch: int) -> None:
        """Record ``epoch`` as sent on ``key`` (a no-op when it already is)."""
        runs = self._runs.setdefault(key, [])
        i = bisect_right(runs, epoch, key=lambda r: r[0])
        prev = runs[i - 1] if i else None
        nxt = runs[i] if i < len(runs) else None
        if prev is not None and epoch <= prev[1]:
            return
        if prev is not None and prev[1] + INTERVAL_S == epoch:
            prev[1] = epoch
            if nxt is not None and nxt[0] == epoch + INTERVAL_S:
                prev[1] = nxt[1]
                del runs[i]
        elif nxt is not None and nxt[0] == epoch + INTERVAL_S:
            nxt[0] = epoch
        else:
            runs.insert(i, [epoch, epoch])

    def contains(self, key: str, epoch: int) -> bool:
        runs = self._runs.get(key, ())
        i = bisect_right(runs, epoch, key=lambda r: r[0])
        return bool(i) and epoch <= runs[i - 1][1]

    def mask(self, key: str, times: np.ndarray) -> np.ndarray:
        """True where ``times`` (sorted epoch s) were sent on ``key``."""
        runs = self._runs.get(key)
        out = np.zeros(len(times), dtype=bool)
        if not runs or not len(times):
            return out
        bounds = np.asarray(runs, dtype=np.int64)
        starts = np.searchsorted(times, bounds[:, 0], side="left")
        ends = np.searchsorted(times, bounds[:, 1], side="right")
        edges = np.zeros(len(times) + 1, dtype=np.int64)
        np.add.at(edges, starts, 1)
        np.add.at(edges, ends, -1)
        return np.cumsum(edges[:-1]) > 0

    def trim(self, first_epoch: int) -> None:
        """Forget everything sent before ``first_epoch`` (the cache no longer holds it)."""
        for key in list(self._runs):
            kept = [[max(a, first_epoch), b] for a, b in self._runs[key] if b >= first_epoch]
            if kept:
                self._runs[key] = kept
            else:
                del self._runs[key]

    def newest(self, kind: str) -> int | None:
        """The newest timestamp sent on any key of ``kind`` (``facility``, ``market``...)."""
        prefix = kind + "/"
        ends = [runs[-1][1] for key, runs in self._runs.items() if key.startswith(prefix)]
        return max(ends) if ends else None

    def count(self) -> int:
        """Pairs held."""
        return sum((b - a) // INTERVAL_S + 1 for runs in self._runs.values() for a, b in runs)

    def run_count(self) -> int:
        return sum(len(runs) for runs in self._runs.values())

    def to_runs(self) -> dict[str, list[list[int]]]:
        """A copy for the checkpoint, keys sorted."""
        return {k: [list(r) for r in self._runs[k]] for k in sorted(self._runs)}


def _check_runs(key: str, runs: list[list[int]]) -> None:
    """ValueError unless ``runs`` are on the grid, ordered, disjoint and non-adjacent."""
    previous = None
    for a, b in runs:
        if a % INTERVAL_S or b % INTERVAL_S or a > b:
            raise ValueError(f"{key}: run [{a}, {b}] is not a range of 5-minute stamps")
        if previous is not None and a <= previous + INTERVAL_S:
            raise ValueError(f"{key}: runs out of order or touching at {a}")
        previous = b


@dataclass(frozen=True)
class Outgoing:
    """One row's new messages, and the ``(key, epoch)`` each one sends."""

    epoch: int
    timestamp: str
    messages: list[Message]
    keys: list[str]


def table_epochs(table: ReplayTable) -> np.ndarray:
    return np.array([int(t.timestamp()) for t in table.times], dtype=np.int64)


def _new_cells(
    values: np.ndarray, keys: Sequence[str], epochs: np.ndarray, sent: SentLog
) -> np.ndarray:
    """rows x ids: a value to send (either of its two cells) that ``sent`` does not hold."""
    pairs = values.reshape(len(epochs), len(keys), 2)
    present = ~np.isnan(pairs).all(axis=2)
    for j, key in enumerate(keys):
        column = present[:, j]
        if column.any():
            present[:, j] = column & ~sent.mask(key, epochs)
    return present


def plan_outgoing(table: ReplayTable, sent: SentLog, base_topic: str) -> Iterator[Outgoing]:
    """Per row, oldest first, the messages of values not sent yet (module doc). Payloads are
    built one row at a time, as the caller takes them."""
    epochs = table_epochs(table)
    fac_keys = [stream_key(FACILITY, f) for f in table.facility_ids]
    regions = table.region_ids
    market = table.market_values.reshape(len(epochs), len(regions), 4)
    prices = market[:, :, :2].reshape(len(epochs), -1)
    flows = market[:, :, 2:].reshape(len(epochs), -1)
    mkt_keys = [stream_key(MARKET, r) for r in regions]
    flow_keys = [stream_key(INTERCHANGE, r) for r in regions]
    new_fac = _new_cells(table.facility_values, fac_keys, epochs, sent)
    new_mkt = _new_cells(prices, mkt_keys, epochs, sent)
    new_flow = _new_cells(flows, flow_keys, epochs, sent)
    rows = np.flatnonzero(new_fac.any(axis=1) | new_mkt.any(axis=1) | new_flow.any(axis=1))
    streams = [
        (new_fac, table.facility_values, fac_keys, FACILITY, table.facility_ids),
        (new_flow, flows, flow_keys, INTERCHANGE, regions),
        (new_mkt, prices, mkt_keys, MARKET, regions),
    ]
    topics = _Topics(base_topic)
    for row in rows.tolist():
        stamp = table.timestamps[row]
        messages: list[Message] = []
        keys: list[str] = []
        for new, values, stream_keys, kind, idents in streams:
            row_values = values[row].tolist()
            for j in np.flatnonzero(new[row]).tolist():
                topic, template = topics.get(kind, idents[j])
                messages.append(
                    (topic, template.encode(stamp, row_values[2 * j], row_values[2 * j + 1]))
                )
                keys.append(stream_keys[j])
        yield Outgoing(int(epochs[row]), stamp, messages, keys)


class _Topics:
    """Topic and payload template per (kind, id), built once."""

    def __init__(self, base_topic: str) -> None:
        self.base = base_topic
        self._cache: dict[tuple[str, str], tuple[str, PayloadTemplate]] = {}

    def get(self, kind: str, ident: str) -> tuple[str, PayloadTemplate]:
        found = self._cache.get((kind, ident))
        if found is None:
            build = {
                FACILITY: build_facility_topic,
                MARKET: build_market_topic,
                INTERCHANGE: build_interchange_topic,
            }[kind]
            found = (build(self.base, ident), PayloadTemplate(kind, ident))  # type: ignore[arg-type]
            self._cache[(kind, ident)] = found
        return found
