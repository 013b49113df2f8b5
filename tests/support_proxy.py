"""A TCP proxy in front of a broker that can hold back what the broker sends to clients.

It stands in for a slow network: while ``hold`` is set, the broker's packets to the client
(CONNACK, PUBACK, ...) are kept and then delivered in order on ``release``, so a test can have
messages in flight, unacknowledged, for as long as it needs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class HoldingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.hold = threading.Event()
        self._released = threading.Condition()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> HoldingProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def release(self) -> None:
        with self._released:
            self.hold.clear()
            self._released.notify_all()

    def close(self) -> None:
        self.release()
        self.server.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, holdable: bool) -> None:
        try:
            while data := src.recv(65536):
                if holdable:
                    with self._released:
                        self._released.wait_for(lambda: not self.hold.is_set())
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
