"""Recorders of one share group that take over each other's sessions (recorder.py --cover).

With mosquitto a member of a shared subscription that dies keeps its share: the broker goes on
giving every n-th message to the dead member's session and keeps it there until that client
id connects again (docs/recording.md). So a recorder that covers for another connects with
the other's client id while it is down, and records that session's messages too (its own
subscriber and the adopted one feed one inbox; each acknowledges what it delivered).

Who is down is told by PostgreSQL, the store the group shares. Each recorder holds a session
advisory lock named after its client id (its *lease*) on a connection of its own, taken
before it connects to the broker; PostgreSQL releases it when that connection ends, which a
``kill -9`` or a lost host does at once. A peer whose lease can be taken is down: the lease
is released at once (so the peer can take it when it comes back), and the recorder that
takes the peer's *adoption* lock (one adopter per peer) connects with the peer's client id.
When the peer comes back, it takes its lease, then connects, and the broker hands it the
session and drops the adopter's connection; the adopter, whose adopted connections never
reconnect by themselves, sees the lease held and lets the session go."""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Sequence

import psycopg

from nemlive.record.recording import Inbound
from nemlive.record.subscriber import Subscriber
from nemlive.store import StoreUrl

log = logging.getLogger(__name__)

LEASE_CLASS = 0x4E454D43  # "NEMC": the first key of every lease; the second names the id
ADOPT_CLASS = 0x4E454D41  # "NEMA": held by the one recorder that holds a peer's session
CHECK_EVERY_S = 1.0
LEASE_RETRY_S = 0.2
CONNECT_TIMEOUT_S = 5


def lease_key(client_id: str) -> int:
    """The advisory lock key (a signed 32-bit int) of a recorder's lease."""
    return zlib.crc32(client_id.encode()) - 2**31


class Sessions:
    """The recorder's own subscriber and the sessions it holds for others; acknowledges a
    committed batch on each (each acknowledges only what its connection delivered)."""

    def __init__(self, own: Subscriber) -> None:
        self.own = own
        self.adopted: dict[str, Subscriber] = {}
        self._lock = threading.Lock()

    def ack(self, messages: Sequence[Inbound]) -> int:
        with self._lock:
            subscribers = [self.own, *self.adopted.values()]
        return sum(sub.ack(messages) for sub in subscribers)

    def add(self, sub: Subscriber) -> None:
        with self._lock:
            self.adopted[sub.client_id] = sub

    def remove(self, client_id: str) -> Subscriber | None:
        with self._lock:
            return self.adopted.pop(client_id, None)


class Cover:
    """Our lease, and the thread that adopts the sessions of peers that are down."""

    def __init__(
        self,
        store: StoreUrl,
        own_id: str,
        peers: Sequence[str],
        sessions: Sessions,
        adopt: Callable[[str], Subscriber | None],
        stop: threading.Event,
    ) -> None:
        self.store = store
        self.own_id = own_id
        self.peers = [p for p in peers if p != own_id]
        self.sessions = sessions
        self.adopt = adopt  # connects a subscriber on a peer's session; None if it cannot
        self.stop = stop
        self._conn: psycopg.Connection | None = None
        self._leased = False
        self._thread = threading.Thread(target=self._run, name="cover", daemon=True)

    def take_lease(self) -> bool:
        """Take our lease before connecting to the broker (waiting while a peer tests it);
        False if ``stop`` was set first."""
        while not self.stop.is_set():
            try:
                self._lease()
            except psycopg.Error as exc:
                log.warning("cannot take this recorder's lease (%s); trying again", exc)
                self._drop()
            if self._leased:
                return True
            self.stop.wait(LEASE_RETRY_S)
        return False

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)

    def close(self) -> None:
        """After the thread and the writer's last batch: disconnect the adopted sessions (the
        broker keeps them for their owners) and let the locks go."""
        for client_id in list(self.sessions.adopted):
            sub = self.sessions.remove(client_id)
            if sub is not None:
                sub.close()
        self._drop()

    def _run(self) -> None:
        while not self.stop.wait(CHECK_EVERY_S):
            try:
                self.check()
            except psycopg.Error as exc:
                log.warning("cannot check the other recorders' leases (%s); trying again", exc)
                self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()  # releases every lock it held
        self._conn, self._leased = None, False

    def _lease(self) -> None:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self.store.target,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name=f"nemlive-recorder-lease {self.own_id}",
                # A host that vanishes must lose its lease in about a minute, not in the
                # operating system's two hours: the server probes this session's socket
                # (its settings, per session), and this side does the same.
                options="-c tcp_keepalives_idle=20 -c tcp_keepalives_interval=10 "
                "-c tcp_keepalives_count=3 -c tcp_user_timeout=60000",
                keepalives=1,
                keepalives_idle=20,
                keepalives_interval=10,
                keepalives_count=3,
                tcp_user_timeout=60_000,
            )
            self._leased = False
        if not self._leased:
            self._leased = self._lock("pg_try_advisory_lock", LEASE_CLASS, self.own_id)

    def _lock(self, function: str, cls: int, client_id: str) -> bool:
        assert self._conn is not None
        row = self._conn.execute(
            f"SELECT {function}(%s, %s)",  # type: ignore[arg-type]
            (cls, lease_key(client_id)),
        ).fetchone()
        return bool(row and row[0])

    def _is_down(self, client_id: str) -> bool:
        """True when no recorder holds ``client_id``'s lease (taken and released at once)."""
        if not self._lock("pg_try_advisory_lock", LEASE_CLASS, client_id):
            return False
        self._lock("pg_advisory_unlock", LEASE_CLASS, client_id)
        return True

    def check(self) -> None:
        """One pass: keep our lease, let go of sessions whose owner is back, adopt the rest."""
        self._lease()
        if not self._leased:
            return  # a peer is testing it, or we lost it with the connection: next pass
        for client_id, sub in list(self.sessions.adopted.items()):
            if not sub.lost.is_set():
                continue
            sub.close()
            self.sessions.remove(client_id)
            if self._is_down(client_id):
                self._adopt(client_id)  # the broker dropped us, not its owner: again
            else:
                self._lock("pg_advisory_unlock", ADOPT_CLASS, client_id)
                log.warning("recorder %s is back: its session is its own again", client_id)
        for client_id in self.peers:
            if client_id in self.sessions.adopted or not self._is_down(client_id):
                continue
            if not self._lock("pg_try_advisory_lock", ADOPT_CLASS, client_id):
                continue  # another recorder of the group covers for it
            if self._adopt(client_id):
                log.warning("recorder %s is down: recording its share on its session", client_id)

    def _adopt(self, client_id: str) -> bool:
        sub = self.adopt(client_id)
        if sub is None:
            self._lock("pg_advisory_unlock", ADOPT_CLASS, client_id)
            return False
        self.sessions.add(sub)
        return True
