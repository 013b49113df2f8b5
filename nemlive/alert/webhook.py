"""Webhook sinks: each on its own thread with a bounded queue, so a slow one never delays
the evaluation.

* The queue holds at most ``max_queued`` alerts; when full, the oldest is dropped and
  counted (``dropped``).
* A POST has a ``timeout``; a failure (network, timeout, 5xx, 408, 429) is retried with the
  shared backoff (``common.retry``) until it succeeds or the sink stops: one ERROR line when
  failures begin or change kind, one INFO line when the webhook answers again. Any other 4xx
  will not change with a retry: that alert is dropped (``rejected``).
* ``format = "json"``: the alert's MQTT payload; ``"text"``: one line for a human (ntfy-style).
* The URL is logged without user info, query or fragment (``common.urls.display_url``).
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable

from nemlive.common.events import AlertEvent, encode_alert
from nemlive.common.nemtime import format_nem
from nemlive.common.retry import Backoff, Failure, RetryStopped, StateLog, call_with_retries
from nemlive.common.urls import display_url

log = logging.getLogger(__name__)

DEFAULT_MAX_QUEUED = 1_000
DEFAULT_TIMEOUT_S = 5.0
WEBHOOK_BACKOFF = Backoff(minimum=0.5, maximum=30.0, jitter=0.5)
# (url, body, content type, timeout) -> None; raises WebhookFailed or WebhookRejected.
Post = Callable[[str, bytes, str, float], None]


class WebhookFailed(Exception):
    """A POST that a retry may mend; ``kind`` is the short state the log line names."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class WebhookRejected(Exception):
    """An answer no retry changes (4xx but 408/429)."""


def http_post(url: str, body: bytes, content_type: str, timeout: float) -> None:
    """POST with urllib; WebhookFailed/WebhookRejected naming the reason, never the URL."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read(65_536)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise WebhookRejected(f"HTTP {exc.code}") from None
        raise WebhookFailed(f"HTTP {exc.code}") from None
    except TimeoutError:
        raise WebhookFailed(f"no answer within {timeout:g} s") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WebhookFailed(type(reason).__name__ if not str(reason) else str(reason)) from None


def alert_text(alert: AlertEvent) -> str:
    """One line for a human, e.g. ``FIRING sa-price: SA1 14500 (threshold 1000) at ...``."""
    value = "no value" if alert.value is None else f"{alert.value:g}"
    head = "FIRING" if alert.state == "firing" else "RESOLVED"
    tail = f"at {format_nem(alert.at)}"
    if alert.state == "resolved":
        tail += f" (firing since {format_nem(alert.since)})"
    return f"{head} {alert.rule} ({alert.kind}): {alert.subject} {value} (threshold {alert.threshold:g}) {tail}"


class WebhookSink:
    """One webhook: ``put`` from the evaluator's thread, sent in order on the sink's thread."""

    def __init__(
        self,
        url: str,
        fmt: str = "json",
        *,
        max_queued: int = DEFAULT_MAX_QUEUED,
        timeout: float = DEFAULT_TIMEOUT_S,
        backoff: Backoff = WEBHOOK_BACKOFF,
        post: Post = http_post,
    ) -> None:
        self.url = url
        self.shown = display_url(url)
        self.fmt = fmt
        self.max_queued = max_queued
        self.timeout = timeout
        self.backoff = backoff
        self._post = post
        self._queue: deque[AlertEvent] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._failures = StateLog()
        self.counts: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._run, name=f"webhook {self.shown}", daemon=True)

    def start(self) -> WebhookSink:
        self._thread.start()
        return self

    def put(self, alert: AlertEvent) -> None:
        """Queue an alert; never blocks. Past ``max_queued`` the oldest is dropped."""
        with self._cond:
            if len(self._queue) >= self.max_queued:
                self._queue.popleft()
                self.counts["dropped"] += 1
            self._queue.append(alert)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the alert in flight (the rest stay unsent, counted ``unsent``)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        self.counts["unsent"] += self.pending()

    def _body(self, alert: AlertEvent) -> tuple[bytes, str]:
        if self.fmt == "text":
            return alert_text(alert).encode(), "text/plain; charset=utf-8"
        return encode_alert(alert), "application/json"

    def _next(self) -> AlertEvent | None:
        with self._cond:
            while not self._queue and not self._stop.is_set():
                self._cond.wait(0.5)
            return self._queue[0] if self._queue else None

    def _send_oldest(self) -> AlertEvent:
        alert = self._next()
        if alert is None:
            raise RetryStopped
        self._post(self.url, *self._body(alert), self.timeout)
        return alert

    def _on_retry(self, failure: Failure) -> None:
        kind = getattr(failure.error, "kind", str(failure.error))
        self.counts["failures"] += 1
        if self._failures.enter(kind):
            log.error(
                "webhook %s failed (%s): retrying with backoff; alerts wait in its queue "
                "(at most %d, then the oldest are dropped)",
                self.shown,
                kind,
                self.max_queued,
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = call_with_retries(
                    self._send_oldest,
                    self.backoff,
                    retry_on=WebhookFailed,
                    wait=self._stop.wait,
                    on_retry=self._on_retry,
                )
            except RetryStopped:
                return
            except WebhookRejected as exc:
                self.counts["rejected"] += 1
                if self._failures.enter(f"refused: {exc}"):
                    log.error(
                        "webhook %s refused an alert (%s): dropping the alerts it refuses; "
                        "check its URL and format",
                        self.shown,
                        exc,
                    )
                sent = self._queue[0] if self._queue else None
            else:
                self.counts["sent"] += 1
                if self._failures.leave():
                    log.info("webhook %s answers again", self.shown)
            with self._cond:
                if self._queue and self._queue[0] is sent:
                    self._queue.popleft()
