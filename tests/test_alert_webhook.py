"""Webhook sinks: bounded queue, retries with backoff, one log line per failure, no secrets.

The unit tests inject the POST; the integration test runs a real HTTP receiver on loopback
that is slow, then down, then up, while the evaluator keeps putting alerts.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from datetime import datetime

import pytest

from nemlive.alert.webhook import WebhookFailed, WebhookRejected, WebhookSink, alert_text
from nemlive.common.events import AlertEvent
from nemlive.common.nemtime import NEM_TZ
from nemlive.common.retry import Backoff

NO_WAIT = Backoff(minimum=0.001, maximum=0.01)
SECRET_URL = "https://user:hunter2@hooks.example/topic?token=sekrit"


def alert(n: int, state: str = "firing") -> AlertEvent:
    at = datetime(2025, 10, 1, 0, 5, tzinfo=NEM_TZ)
    return AlertEvent(
        rule="hot",
        kind="price_above",
        subject=f"S{n}",
        state=state,  # type: ignore[arg-type]
        since=at,
        at=at,
        value=float(n),
        threshold=300.0,
    )


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_the_text_format_is_one_line_for_a_human() -> None:
    line = alert_text(alert(7, "resolved"))
    assert line.startswith("RESOLVED hot (price_above): S7 7 (threshold 300)")
    assert "\n" not in line


def test_failures_are_retried_in_order_and_logged_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[str] = []
    failures = iter([WebhookFailed("HTTP 503")] * 3 + [WebhookFailed("connection refused")] * 2)

    def post(url: str, body: bytes, content_type: str, timeout: float) -> None:
        error = next(failures, None)
        if error is not None:
            raise error
        sent.append(json.loads(body)["subject"])

    sink = WebhookSink(SECRET_URL, post=post, backoff=NO_WAIT)
    for n in range(3):
        sink.put(alert(n))
    with caplog.at_level(logging.INFO, logger="nemlive.alert.webhook"):
        sink.start()
        assert wait_for(lambda: len(sent) == 3)
        sink.stop()
    assert sent == ["S0", "S1", "S2"]
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "failed" in line]) == 2  # 503, then refused
    assert any("answers again" in line for line in lines)
    assert all("hunter2" not in line and "sekrit" not in line for line in lines)
    assert sink.counts["failures"] == 5 and sink.counts["sent"] == 3


def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    sink = WebhookSink("http://127.0.0.1:9/", max_queued=3)  # not started
    for n in range(5):
        sink.put(alert(n))
    assert sink.pending() == 3 and sink.counts["dropped"] == 2
    assert [a.subject for a in sink._queue] == ["S2", "S3", "S4"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server.gate.wait()  # type: ignore[attr-defined]
        server.got.append(json.loads(body)["subject"])  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _serve(port: int = 0) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
    server.gate = threading.Event()  # type: ignore[attr-defined]
    server.got = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.integration
def test_a_slow_then_down_then_up_webhook_loses_nothing_within_its_bound() -> None:
    """Slow (answers held), down (closed), up again (a new server on the same port): every
    alert put within the queue's bound arrives, in order, and put() never waits."""
    server = _serve()
    port = server.server_address[1]
    sink = WebhookSink(f"http://127.0.0.1:{port}/hook", timeout=0.5, backoff=NO_WAIT)
    sink.start()
    longest = 0.0
    for n in range(20):  # slow: the receiver holds every answer
        started = time.perf_counter()
        sink.put(alert(n))
        longest = max(longest, time.perf_counter() - started)
    assert wait_for(lambda: sink.counts["failures"] >= 1)  # the first POST timed out
    server.shutdown()
    server.server_close()  # down: connection refused
    for n in range(20, 40):
        started = time.perf_counter()
        sink.put(alert(n))
        longest = max(longest, time.perf_counter() - started)
    assert longest < 0.05, "put() waited on the webhook"
    up = _serve(port)
    up.gate.set()  # type: ignore[attr-defined]
    assert wait_for(lambda: sink.pending() == 0, timeout=30)
    sink.stop()
    up.shutdown()
    got = up.got  # type: ignore[attr-defined]
    # The slow server never answered (its POSTs timed out), so each alert arrives once here.
    assert got == [f"S{n}" for n in range(40)]
    assert sink.counts["dropped"] == 0


def test_a_refused_alert_is_dropped_and_the_rest_go_on(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[str] = []

    def post(url: str, body: bytes, content_type: str, timeout: float) -> None:
        subject = json.loads(body)["subject"]
        if subject in ("S0", "S1"):
            raise WebhookRejected("HTTP 400")
        sent.append(subject)

    sink = WebhookSink(SECRET_URL, post=post, backoff=NO_WAIT)
    for n in range(4):
        sink.put(alert(n))
    with caplog.at_level(logging.INFO, logger="nemlive.alert.webhook"):
        sink.start()
        assert wait_for(lambda: len(sent) == 2)
        sink.stop()
    assert sent == ["S2", "S3"] and sink.counts["rejected"] == 2
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1
