"""The OE simulator's HTTP shell: a ThreadingHTTPServer around :func:`oesim.api.handle_api`
and, for ``/Reports`` paths, NEMweb's face (:func:`oesim.nemweb.handle_nemweb`).

Adds what only the transport can do: injected faults (oesim.faults), the request log,
keep-alive HTTP/1.1, slow and truncated bodies, and the ``/__sim__/`` control routes.
Standard library only. Use :func:`oesim.testing.run_simulator` in tests and
``python -m oesim`` as a process.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from oesim.api import (
    DEMO_KEY,
    VERSION,
    Query,
    Response,
    SimulatorConfig,
    dump_json,
    fault_response,
    handle_api,
)
from oesim.clock import NEM_TZ, newest_settled
from oesim.dataset import Dataset
from oesim.faults import FaultInjector, RequestLog, RequestRecord
from oesim.nemweb import NemwebFace, handle_nemweb, is_nemweb_path, nemweb_admin

__all__ = [
    "DEMO_KEY",
    "VERSION",
    "SimulatorConfig",
    "SimulatorServer",
    "load_dataset",
    "make_server",
]

log = logging.getLogger(__name__)


class SimulatorServer(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the config, fault injector and request log."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: SimulatorConfig) -> None:
        super().__init__(address, SimulatorHandler)
        self.config = config
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.stopping = threading.Event()
        # NEMweb's /Reports/ (oesim.nemweb): same dataset and clock, its own publication.
        self.nemweb = NemwebFace(config.dataset, getattr(config.dataset, "seed", 0))

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        """Wake sleeping (slow) handlers, stop serving and close the socket."""
        self.stopping.set()
        self.shutdown()
        self.server_close()


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "oesim"

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: in live mode the simulated clock's time, as a real server
        dates its answers by its own clock (a NEMweb client sets its clock from it)."""
        config = self.server.config  # type: ignore[attr-defined]
        if timestamp is None and config.live:
            timestamp = config.clock().timestamp()
        return super().date_time_string(timestamp)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _discard_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)

    def _serve(self, method: str) -> None:
        started = time.perf_counter()
        self._discard_body()
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        if path.startswith("/__sim__/"):
            if is_loopback_peer(self.client_address[0]):
                self._send(self._admin(method, path, query), method)
            else:
                self._send(Response(403, dump_json({"detail": ADMIN_REFUSED})), method)
            return
        server = self.server
        config = server.config
        rule = server.faults.take(path)
        fault = rule.kind if rule else None
        response = fault_response(config, rule, path, query) if rule else None
        if response is None:
            if fault == "slow":
                seconds = rule.seconds if rule and rule.seconds is not None else config.slow_seconds
                if server.stopping.wait(seconds):
                    self.close_connection = True
                    return
            response = self._answer(method, path, query)
        body = response.body
        announced = len(body)
        if fault == "truncated":
            body = body[: len(body) // 2]
            announced = len(body)
        elif fault == "truncated_close":
            body = body[: len(body) // 2]
        # logged before sending, so a client that has its answer always finds it in the log
        server.requests.append(
            RequestRecord(
                method=method,
                path=path,
                query=query,
                status=response.status,
                bytes=announced,
                fault=fault,
                elapsed_s=time.perf_counter() - started,
            )
        )
        sent_ok = self._send(response, method, body=body, announced=announced)
        if fault == "truncated_close" or not sent_ok:
            self.close_connection = True

    def _answer(self, method: str, path: str, query: str) -> Response:
        """The OE face's answer, or NEMweb's for a ``/Reports`` path."""
        config = self.server.config
        if is_nemweb_path(path):
            headers = {k.lower(): v for k, v in self.headers.items()}
            now = config.clock().timestamp()
            return handle_nemweb(self.server.nemweb, config.live, method, path, headers, now)
        headers = {k: v for k, v in self.headers.items()}
        return handle_api(config, method, path, query, headers)

    def _send(
        self,
        response: Response,
        method: str,
        body: bytes | None = None,
        announced: int | None = None,
    ) -> bool:
        payload = response.body if body is None else body
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header(
                "Content-Length", str(len(payload) if announced is None else announced)
            )
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
            return True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            log.debug("client went away before the response was sent")
            return False

    def _admin(self, method: str, path: str, query: str) -> Response:
        """Run-time control for a simulator started as a process (no key: callers on this
        machine only, checked by :meth:`_serve`).

        ``POST /__sim__/faults?kind=503&count=2&path=/data/&seconds=5`` arms a fault,
        ``DELETE /__sim__/faults`` clears them, ``GET /__sim__/faults`` lists them,
        ``GET /__sim__/requests`` returns the request log, ``DELETE /__sim__/requests`` clears it.
        ``GET /__sim__/clock`` tells the simulated time and the last settled interval;
        ``GET /__sim__/credits`` each key's credits left, ``POST /__sim__/credits?remaining=0``
        (``&key=K``: one key) sets them until the next refill.
        ``GET /__sim__/nemweb`` shows NEMweb's publication and faults,
        ``POST /__sim__/nemweb/faults?kind=late&count=2&seconds=240`` arms one (late, missing,
        replaced, 403, truncated), ``DELETE /__sim__/nemweb/faults`` clears them.
        """
        server = self.server
        q = Query(query)
        try:
            if path == "/__sim__/faults":
                if method == "POST":
                    seconds = q.one("seconds")
                    server.faults.inject(
                        q.one("kind") or "",
                        int(q.one("count") or 1),
                        q.one("path"),
                        float(seconds) if seconds else None,
                    )
                elif method == "DELETE":
                    server.faults.clear()
                pending = [vars(r) for r in server.faults.pending()]
                return Response(200, dump_json({"faults": pending}))
            if path == "/__sim__/requests":
                if method == "DELETE":
                    server.requests.clear()
                return Response(200, dump_json({"requests": [vars(r) for r in server.requests]}))
            if path == "/__sim__/clock":
                return Response(200, dump_json(clock_status(server.config)))
            if path == "/__sim__/credits":
                return Response(200, dump_json(credits_admin(server.config, method, q)))
            if path.startswith("/__sim__/nemweb"):
                now = server.config.clock().timestamp()
                params = {k: q.one(k) for k in ("kind", "count", "seconds")}
                nemweb = nemweb_admin(
                    server.nemweb, server.faults, server.config.live, method, path, params, now
                )
                if nemweb is not None:
                    return Response(200, dump_json(nemweb))
        except ValueError as exc:
            return Response(400, dump_json({"detail": str(exc)}))
        return Response(404, dump_json({"detail": "Not Found"}))


ADMIN_REFUSED = "the /__sim__/ routes answer only callers on the simulator's own machine"


def is_loopback_peer(host: str) -> bool:
    """True for a peer address on this machine: 127.0.0.0/8, ::1 or IPv4-mapped loopback.

    The ``/__sim__/`` routes take no key and can hang every request (a ``slow`` fault), so a
    simulator bound to 0.0.0.0 must not let other machines reach them. Anything that does
    not parse as an address is refused.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def clock_status(config: SimulatorConfig) -> dict[str, Any]:
    """The simulated now (UTC), its speed, and the newest interval served (NEM time)."""
    now = config.clock()
    newest = newest_settled(now.timestamp(), config.settle_delay_s)
    return {
        "now": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "speed": getattr(config.clock, "speed", 1.0),
        "live": config.live,
        "newest_settled": datetime.fromtimestamp(newest, NEM_TZ).isoformat(timespec="seconds"),
    }


def credits_admin(config: SimulatorConfig, method: str, q: Query) -> dict[str, Any]:
    """Each key's credits left today; POST ``remaining`` (and ``key``) sets them first."""
    ledger = config.credits
    if ledger is None:
        raise ValueError("credits are not counted: start the simulator with --live or --credits")
    sim_s = config.clock().timestamp()
    if method == "POST":
        remaining = int(q.one("remaining") or 0)
        for key, plan in config.keys.items():
            if q.one("key") in (None, key):
                ledger.set_remaining(key, plan, sim_s, remaining)
    return {"credits": {k: ledger.remaining(k, p, sim_s) for k, p in config.keys.items()}}


def load_dataset(name: str, seed: int = 0, **options: Any) -> Dataset:
    """``small`` | ``scaled`` | ``nem`` -> a dataset; raise ValueError for an unknown or
    unavailable one. ``nem`` is imported lazily (it is built by a later issue)."""
    if name == "small":
        from oesim.small import SmallDataset

        return SmallDataset(seed=seed)
    if name == "scaled":
        from oesim.scaled import ScaledDataset

        return ScaledDataset(seed=seed, **options)
    if name == "nem":
        try:
            from oesim import nem
        except ImportError as exc:
            raise ValueError(
                "dataset 'nem' is not available (oesim/nem.py is missing or broken): "
                f"use --dataset small or scaled ({exc})"
            ) from exc
        factory = getattr(nem, "NemDataset", None) or getattr(nem, "build_dataset", None)
        if factory is None:
            raise ValueError("oesim/nem.py defines neither NemDataset nor build_dataset")
        try:
            return factory(seed=seed, **options)
        except TypeError:
            return factory(**options)
    raise ValueError(f"unknown dataset {name!r}: use small, scaled or nem")


def make_server(config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Bind (port 0 = ephemeral) without serving yet."""
    return SimulatorServer((host, port), config)
