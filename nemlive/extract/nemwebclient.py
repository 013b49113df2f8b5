"""The polite NEMweb client: one request a second at most, conditional index reads, bounded
bodies, retries through :mod:`nemlive.common.retry`, and a 403 taken as "stop polling".

NEMweb is a public site behind a firewall that answers 403 to clients that poll hard. So:

* at most one request starts per ``min_interval_s`` (1 s) across every call, retries
  included; the wait goes through the injected ``wait`` (tests pass a fake clock's);
* an index is read with ``If-None-Match``/``If-Modified-Since`` from its last answer: a 304
  costs the server nothing and :meth:`NemwebClient.index` returns None;
* a 403 raises :class:`NemwebBlocked` at once, never retried here: the follower waits
  minutes before it asks again;
* 5xx, timeouts, connection errors and a cut body (fewer bytes than Content-Length, or a
  zip that does not open) are retried a few times with backoff, then raise NemwebError: the
  file is fetched again on a later poll, never half used;
* a body over ``max_bytes`` (declared or streamed) fails at once with NemwebError;
* a whole answer takes ``deadline_s`` (120 s) at most, a body trickling in slower is retried;
  ``stop`` (the CLI's) set while a body comes in raises RetryStopped at the next chunk.

Every message names the URL by :func:`~nemlive.extract.oeclient.display_url` (no
credentials, no query) and is one line.
"""

from __future__ import annotations

import email.utils
import io
import logging
import random
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import requests
import urllib3

from nemlive.common.errors import ApiError
from nemlive.common.retry import Backoff, Failure, RetryStopped, Wait, call_with_retries
from nemlive.common.urls import display_url
from nemlive.extract import nemweb

log = logging.getLogger(__name__)

USER_AGENT = f"nemlive-extractor/0.1 python-requests/{requests.__version__}"
MAX_BYTES = 96 * 1024 * 1024  # an Archive day of DISPATCHSCADA is some tens of MB
MAX_INDEX_BYTES = 8 * 1024 * 1024  # a Current index of 3 days of files is under 1 MB
DEADLINE_S = 120.0  # one request's whole answer, however slowly it trickles in
TRIES = 3
BACKOFF = Backoff(2.0, 30.0, jitter=0.5)  # between tries of one request


class NemwebError(ApiError):
    """NEMweb failed or answered something unusable; ``str`` is one line with the URL."""


class NemwebBlocked(NemwebError):
    """403: NEMweb's firewall refuses us (it does so to clients that poll hard)."""


class NemwebNotFound(NemwebError):
    """404: the file is not (or no longer) there."""


class _Retryable(Exception):
    """A failure worth another try."""


@dataclass
class NemwebStats:
    """Requests sent per kind (retries included), bytes received, 304 answers."""

    sent: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    not_modified: int = 0
    retries: int = 0

    @property
    def requests(self) -> int:
        return sum(self.sent.values())


def _sleep(seconds: float) -> bool:
    time.sleep(max(seconds, 0.0))
    return False


class NemwebClient:
    """GETs from NEMweb (or the simulator's NEMweb face) at ``base_url``."""

    def __init__(
        self,
        base_url: str = nemweb.DEFAULT_BASE_URL,
        *,
        session: requests.Session | None = None,
        min_interval_s: float = 1.0,
        max_bytes: int = MAX_BYTES,
        max_index_bytes: int = MAX_INDEX_BYTES,
        timeout: tuple[float, float] = (10.0, 60.0),
        clock: Callable[[], float] = time.monotonic,
        wait: Wait = _sleep,
        tries: int = TRIES,
        backoff: Backoff = BACKOFF,
        draw: Callable[[], float] = random.random,
        stop: threading.Event | None = None,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.min_interval_s = min_interval_s
        # The server's clock (epoch s) from the Date header of its latest answer: NEMweb's
        # time, not this machine's (a simulator's may run faster); None until one came.
        self.server_time: float | None = None
        self.max_bytes = max_bytes
        self.max_index_bytes = max_index_bytes
        self.timeout = timeout
        self.stats = NemwebStats()
        self.last_modified: dict[str, float] = {}
        self._clock = clock
        self._wait = wait
        self._tries = tries
        self._backoff = backoff
        self._draw = draw
        self._stop = stop
        self.deadline_s = deadline_s
        self._last_start: float | None = None
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._session = session or requests.Session()
        self._session.headers.update({"User-Agent": USER_AGENT})

    @property
    def display_base(self) -> str:
        return display_url(self.base_url)

    def close(self) -> None:
        self._session.close()

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    # --- the two calls -----------------------------------------------------------------------

    def index(self, dir_path: str) -> list[str] | None:
        """The file names a folder's index lists; None when unchanged since the last read
        (304). Raise NemwebBlocked (403) or NemwebError."""
        url = self.url(dir_path)
        etag, modified = self._validators.get(url, (None, None))
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        answer = self._fetch(url, "index", headers, self.max_index_bytes, check_zip=False)
        if answer is None:
            return None
        body, response_headers = answer
        self._remember(url, response_headers)
        return nemweb.parse_index(body.decode("utf-8", errors="replace"))

    def get(self, path: str, kind: str = "file") -> bytes:
        """A file's bytes, whole: a ``.zip`` is checked to open. Raise NemwebNotFound (404),
        NemwebBlocked (403) or NemwebError."""
        url = self.url(path)
        check = path.lower().endswith(".zip")
        answer = self._fetch(url, kind, {}, self.max_bytes, check_zip=check)
        assert answer is not None
        return answer[0]

    def index_modified(self, dir_path: str) -> float | None:
        """The index's Last-Modified (epoch s) from its last 200, None without one."""
        return self.last_modified.get(self.url(dir_path))

    # --- the core ----------------------------------------------------------------------------

    def _remember(self, url: str, headers: Mapping[str, str]) -> None:
        etag, modified = headers.get("ETag"), headers.get("Last-Modified")
        self._validators[url] = (etag, modified)
        when = _http_date(modified)
        if when is None:
            self.last_modified.pop(url, None)
        else:
            self.last_modified[url] = when

    def _fetch(
        self, url: str, kind: str, headers: dict[str, str], cap: int, *, check_zip: bool
    ) -> tuple[bytes, Mapping[str, str]] | None:
        def on_retry(failure: Failure) -> None:
            self.stats.retries += 1
            log.info(
                "NEMweb %s %s: %s; try %d of %d in %.0f s",
                kind,
                display_url(url),
                failure.error,
                failure.number + 1,
                self._tries,
                failure.delay,
            )

        try:
            return call_with_retries(
                lambda: self._attempt(url, kind, headers, cap, check_zip),
                self._backoff,
                retry_on=_Retryable,
                wait=self._wait,
                tries=self._tries,
                on_retry=on_retry,
                draw=self._draw,
            )
        except _Retryable as exc:
            raise NemwebError(
                f"NEMweb {kind} {display_url(url)} failed {self._tries} times, last: {exc}"
            ) from None

    def _pace(self) -> None:
        if self._last_start is not None:
            left = self._last_start + self.min_interval_s - self._clock()
            if left > 0 and self._wait(left):
                raise RetryStopped
        self._last_start = self._clock()

    def _attempt(
        self, url: str, kind: str, headers: dict[str, str], cap: int, check_zip: bool
    ) -> tuple[bytes, Mapping[str, str]] | None:
        self._pace()
        started = self._clock()
        self.stats.sent[kind] += 1
        try:
            response = self._session.get(url, headers=headers, timeout=self.timeout, stream=True)
        except requests.Timeout:
            raise _Retryable(f"no answer within {self.timeout[1]:g} s") from None
        except requests.ConnectionError as exc:
            raise _Retryable(f"connection failed ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise NemwebError(
                f"NEMweb {kind} {display_url(url)} failed: {type(exc).__name__}; check --nemweb-url"
            ) from None
        with response:
            self.server_time = _http_date(response.headers.get("Date")) or self.server_time
            return self._judge(response, url, kind, cap, check_zip, started)

    def _judge(
        self,
        response: requests.Response,
        url: str,
        kind: str,
        cap: int,
        check_zip: bool,
        started: float,
    ) -> tuple[bytes, Mapping[str, str]] | None:
        status = response.status_code
        where = display_url(url)
        if status == 304:
            self.stats.not_modified += 1
            return None
        if status == 403:
            raise NemwebBlocked(
                f"NEMweb refused {where} (403): its firewall blocks clients that poll hard"
            )
        if status == 404:
            raise NemwebNotFound(f"NEMweb has no {where} (404)")
        if status >= 500:
            raise _Retryable(f"HTTP {status}")
        if status != 200:
            raise NemwebError(f"NEMweb answered HTTP {status} to {where}; check --nemweb-url")
        body = self._read(response, where, cap, started)
        if check_zip and not _zip_opens(body):
            raise _Retryable(f"a zip that does not open ({len(body)} bytes, cut short?)")
        return body, response.headers

    def _read(self, response: requests.Response, where: str, cap: int, started: float) -> bytes:
        """The body, whole; RetryStopped at a stop, a retry past the request's deadline."""
        too_big = NemwebError(
            f"NEMweb's answer for {where} is over {cap / 2**20:,.0f} MiB: not a NEMweb file; "
            "check --nemweb-url"
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_big
        body = bytearray()
        try:
            for chunk in _chunks(response):
                body += chunk
                self.stats.bytes += len(chunk)
                if len(body) > cap:
                    raise too_big
                if self._stop is not None and self._stop.is_set():
                    raise RetryStopped
                if self._clock() - started > self.deadline_s:
                    raise _Retryable(f"no whole answer within {self.deadline_s:g} s")
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.HTTPError,
        ) as exc:
            raise _Retryable(f"the body was cut ({type(exc).__name__})") from None
        if declared.isdigit() and len(body) < int(declared):
            raise _Retryable(f"the body was cut: {len(body)} of {declared} bytes")
        return bytes(body)


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: each read returns what came (up to 64 KiB), never waits for a
    whole chunk, so a body trickling in still lets the caller check its stop and deadline."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:  # not urllib3 underneath
        yield from response.iter_content(chunk_size=1 << 16)
        return
    while chunk := read1(1 << 16, decode_content=True):
        yield chunk


def _zip_opens(body: bytes) -> bool:
    """The zip's central directory reads (a cut body's does not). Nothing is unpacked here:
    the parse reads the members later, within its caps."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            archive.infolist()
            return True
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        return False


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() if when is not None else None
