"""Switchable fault injection and the request log of the OE simulator.

A fault is armed for the next N requests whose path contains an optional substring;
each matching request consumes one. Thread-safe: the server's handler threads and a
test's thread share one :class:`FaultInjector` and one :class:`RequestLog`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

# What each kind does (see server.py for the bodies):
#   500             OE envelope "Error executing query"
#   502             HTML body (a proxy's page), text/html
#   503             OE envelope "Maintenance Mode"
#   504             HTML body (a proxy timeout page)
#   429             OE envelope plus a Retry-After header (seconds, default 1)
#   416             legacy (pre-4.5.0) no-data status with the OE no-data text
#   401             OE envelope "Authentication failed" (an exhausted key mid-run)
#   403             HTML body "403 - Forbidden: Access is denied." (NEMweb's firewall), text/html
#   slow            sleep ``seconds`` (default: the server's slow_seconds) then answer normally
#   truncated       the normal JSON body cut in half; Content-Length matches the cut bytes
#   truncated_close Content-Length of the whole body, half of it sent, then the connection closes
FAULT_KINDS: tuple[str, ...] = (
    "500",
    "502",
    "503",
    "504",
    "429",
    "416",
    "401",
    "403",
    "slow",
    "truncated",
    "truncated_close",
)


class FaultSpecError(ValueError):
    """A fault specification that cannot be parsed (CLI ``--fault``)."""


@dataclass
class FaultRule:
    """One armed fault: ``kind`` for the next ``remaining`` requests matching ``path_contains``."""

    kind: str
    remaining: int
    path_contains: str | None = None
    seconds: float | None = None

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (self.path_contains is None or self.path_contains in path)


def parse_fault_spec(text: str) -> FaultRule:
    """``KIND[:N[:PATH_SUBSTRING]]`` -> FaultRule (N defaults to 1), e.g. ``503:2:/market``."""
    parts = text.split(":", 2)
    kind = parts[0].strip()
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"unknown fault kind {kind!r}: use one of {', '.join(FAULT_KINDS)}")
    count = 1
    if len(parts) > 1 and parts[1]:
        try:
            count = int(parts[1])
        except ValueError as exc:
            raise FaultSpecError(f"fault count must be an integer in {text!r}") from exc
        if count < 1:
            raise FaultSpecError(f"fault count must be >= 1 in {text!r}")
    path = parts[2] if len(parts) > 2 and parts[2] else None
    return FaultRule(kind=kind, remaining=count, path_contains=path)


class FaultInjector:
    """Faults armed at run time: ``inject('503', count=2, path_contains='/data/')``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def inject(
        self,
        kind: str,
        count: int = 1,
        path_contains: str | None = None,
        seconds: float | None = None,
    ) -> None:
        """Arm ``kind`` for the next ``count`` matching requests (FIFO with other rules).

        ``seconds``: sleep for ``slow``, ``Retry-After`` for ``429``; ignored otherwise.
        """
        if kind not in FAULT_KINDS:
            raise FaultSpecError(
                f"unknown fault kind {kind!r}: use one of {', '.join(FAULT_KINDS)}"
            )
        if count < 1:
            raise FaultSpecError("count must be >= 1")
        with self._lock:
            self._rules.append(FaultRule(kind, count, path_contains, seconds))

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def discard(self, path_contains: str) -> None:
        """Remove the rules armed for exactly this path substring."""
        with self._lock:
            self._rules = [r for r in self._rules if r.path_contains != path_contains]

    def take(self, path: str) -> FaultRule | None:
        """Consume one use of the first rule matching ``path``; a copy with remaining=1."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(path):
                    rule.remaining -= 1
                    taken = FaultRule(rule.kind, 1, rule.path_contains, rule.seconds)
                    self._rules = [r for r in self._rules if r.remaining > 0]
                    return taken
        return None

    def pending(self) -> list[FaultRule]:
        """Rules still armed (copies)."""
        with self._lock:
            return [FaultRule(r.kind, r.remaining, r.path_contains, r.seconds) for r in self._rules]


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it. ``path`` includes any ``/v4`` prefix; ``query`` is
    the raw query string; ``bytes`` is the body length announced; ``fault`` the injected kind."""

    method: str
    path: str
    query: str
    status: int
    bytes: int
    fault: str | None = None
    elapsed_s: float = 0.0


# A simulator left running (``make live``, a long follow) answers a request every few seconds
# for days: the log keeps the newest requests only, so its memory stays bounded (a few MB).
REQUEST_LOG_LIMIT = 10_000


class RequestLog:
    """Thread-safe log of the newest ``limit`` :class:`RequestRecord` (older ones drop out)."""

    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=limit)

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def count(self, path_contains: str | None = None, status: int | None = None) -> int:
        """How many requests matched (path substring and/or status)."""
        return sum(
            1
            for r in self.records()
            if (path_contains is None or path_contains in r.path)
            and (status is None or r.status == status)
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.records())

    def __getitem__(self, index: int) -> RequestRecord:
        with self._lock:
            return self._records[index]
