"""A small HTTP client for the three OpenElectricity v4 routes the extractor needs.

One ``requests.Session`` with the Bearer key, connect and read timeouts on every request,
no more than one request start per ``min_interval`` (0.5 s = the COMMUNITY plan's 2
requests a second), and retries with exponential backoff and jitter for what is worth
retrying: 5xx, 429 (honouring ``Retry-After``), connection errors, timeouts and a truncated
or unparseable JSON body. Everything else fails at once with one line (ApiError):

* 404 with the OE error envelope, and the legacy 416, mean "no data": the call returns None;
* 401: the key was rejected (the origin also answers 401 when the credits run out);
* 400 and 422: the server's own message, read from ``error``, then from ``detail``.

The key is sent only in the ``Authorization`` header and scrubbed from every message.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from nemlive.common.errors import ApiError, ConfigError
from nemlive.common.nemtime import format_request_time
from nemlive.common.retry import Backoff, Failure, call_with_retries
from nemlive.common.urls import display_url

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.openelectricity.org.au/v4"
KEY_SIGNUP_URL = "https://platform.openelectricity.org.au"
USER_AGENT = f"nemlive-extractor/0.1 python-requests/{requests.__version__}"
# What json.loads raises for a body it cannot read: bad syntax or encoding, and a nesting
# deeper than the interpreter's recursion limit (``[[[[...]]]]``), which is no ValueError.
UNREADABLE_JSON = (ValueError, UnicodeDecodeError, RecursionError)


class KeyRejected(ApiError):
    """401: the API refused the key. The origin answers so for a wrong key and for a key out
    of credits alike (``Authentication failed``); ``message`` is the server's text."""

    def __init__(self, text: str, message: str = "") -> None:
        super().__init__(text)
        self.message = message


@dataclass(frozen=True)
class ClientSettings:
    """HTTP behaviour. Times in seconds. ``api_key`` is kept out of ``repr``."""

    base_url: str
    api_key: str = field(repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    min_interval: float = 0.5
    max_retry_after: float = 300.0
    # The largest answer is 30 facilities x 8 days of 5-minute points for every unit: about
    # 20 MB. An answer many times that is broken or hostile, and would only fill memory.
    max_response_bytes: int = 128 * 1024 * 1024


@dataclass
class RequestStats:
    """What the client did: requests sent per kind (retries included), retries, and seconds
    spent in HTTP (request, response body and JSON decoding) and in waits (pacing, backoff)."""

    sent: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    http_seconds: float = 0.0
    wait_seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())


@dataclass(frozen=True, slots=True)
class _Retry:
    reason: str
    retry_after: float | None = None


class _RetryWanted(Exception):
    """A failure worth retrying, as the retry loop sees it."""

    def __init__(self, retry: _Retry) -> None:
        super().__init__(retry.reason)
        self.retry = retry


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait (delta-seconds or an HTTP date), None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def read_error_message(body: bytes) -> str:
    """The server's message from an error body: ``error`` (OE envelope), then ``detail``
    (FastAPI; a 422 list becomes ``loc: msg; ...``), else a note that the body is not JSON."""
    try:
        payload = json.loads(body)
    except UNREADABLE_JSON:
        return "non-JSON body"
    if isinstance(payload, Mapping):
        if payload.get("error"):
            return str(payload["error"])
        detail = payload.get("detail")
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, Mapping):
                    loc = [str(x) for x in item.get("loc") or () if x not in ("query", "path")]
                    where = ".".join(loc)
                    msg = str(item.get("msg") or item.get("type") or "invalid")
                    parts.append(f"{where}: {msg}" if where else msg)
                else:
                    parts.append(str(item))
            return "; ".join(parts) or "validation error"
        if detail:
            return str(detail)
    return "no message"


class OEClient:
    """Synchronous OE v4 client. Use as a context manager, or call :meth:`close`.

    ``sleep``, ``clock`` and ``jitter`` are injectable so that the pacing and backoff are
    observable; production uses the real ones.
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.stats = RequestStats()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._last_start: float | None = None
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {settings.api_key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )

    def __enter__(self) -> OEClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------ routes

    def fetch_facilities(self, network: str) -> dict[str, Any]:
        """``GET /facilities/?network_id=<network>``: every facility and unit of the network,
        whatever its status (the extractor filters operational ones itself)."""
        payload = self.get_json(
            "facilities/", [("network_id", network)], kind="facilities", empty_ok=False
        )
        assert payload is not None
        return payload

    def fetch_facility_data(
        self,
        network: str,
        facility_codes: Sequence[str],
        start: datetime,
        end: datetime | None,
        metrics: Sequence[str] = ("power", "emissions"),
    ) -> dict[str, Any] | None:
        """``GET /data/facilities/<network>``: per-unit 5-minute series for up to 30
        facilities, naive NEM ``[start, end)``; ``end=None`` leaves ``date_end`` to the API
        (its last settled interval). None when the API has no data there."""
        params = [("facility_code", c) for c in facility_codes]
        params += [("metrics", m) for m in metrics]
        params += [("interval", "5m"), *_window_params(start, end)]
        return self.get_json(f"data/facilities/{network}", params, kind="facility_data")

    def fetch_market(
        self,
        network: str,
        start: datetime,
        end: datetime | None,
        metrics: Sequence[str] = ("price", "demand", "flow_imports", "flow_exports"),
    ) -> dict[str, Any] | None:
        """``GET /market/network/<network>`` grouped by region, 5-minute, naive NEM
        ``[start, end)`` (``end=None``: to the API's last settled interval). None when the API
        has no data there."""
        params = [("metrics", m) for m in metrics]
        params += [
            ("interval", "5m"),
            *_window_params(start, end),
            ("primary_grouping", "network_region"),
        ]
        return self.get_json(f"market/network/{network}", params, kind="market")

    def fetch_me(self) -> dict[str, Any]:
        """``GET /me``: the key's plan, rate limit and credits (docs/oe-api.md §6)."""
        payload = self.get_json("me", [], kind="me", empty_ok=False)
        assert payload is not None
        return payload

    # ------------------------------------------------------------------ core

    def get_json(
        self,
        path: str,
        params: Sequence[tuple[str, str]],
        *,
        kind: str,
        empty_ok: bool = True,
    ) -> dict[str, Any] | None:
        """GET ``<base>/<path>`` with retries; the decoded JSON object, or None for no data
        (only when ``empty_ok``). Raise ApiError (or ConfigError for an unusable URL)."""
        url = self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")
        limit = self.settings.max_retries

        def attempt() -> dict[str, Any] | None:
            outcome = self._attempt(url, params, kind=kind, empty_ok=empty_ok)
            if isinstance(outcome, _Retry):
                raise _RetryWanted(outcome)
            return outcome

        def on_retry(failure: Failure) -> None:
            self.stats.retries += 1
            reason = failure.error.retry.reason  # type: ignore[attr-defined]
            log.warning(
                "%s: %s; retry %d of %d in %.1f s",
                kind,
                reason,
                failure.number,
                limit,
                failure.delay,
            )

        try:
            return call_with_retries(
                attempt,
                Backoff(self.settings.backoff_base, self.settings.backoff_cap, jitter=0.5),
                retry_on=_RetryWanted,
                wait=self._wait_to_retry,
                tries=limit + 1,
                on_retry=on_retry,
                server_delay=self._server_delay,
                draw=self._jitter,
            )
        except _RetryWanted as exc:
            raise ApiError(
                f"{kind} request to {display_url(url)} failed {limit + 1} times, "
                f"last: {exc.retry.reason}; try again later or raise --max-retries"
            ) from None

    def _server_delay(self, error: BaseException) -> float | None:
        """The server's Retry-After, None without one (then the backoff's "equal jitter":
        at least half the exponential step, so retries never bunch up at 0)."""
        retry_after = error.retry.retry_after if isinstance(error, _RetryWanted) else None
        if retry_after is not None and retry_after > self.settings.max_retry_after:
            raise ApiError(
                f"the API asks to wait {retry_after:.0f} s before the next request "
                "(rate limit or daily credits): try again later"
            )
        return retry_after

    def _wait_to_retry(self, seconds: float) -> bool:
        self._wait(seconds)
        return False  # nothing stops the extractor's waits but Ctrl-C

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.wait_seconds += seconds
            self._sleep(seconds)

    def _pace(self) -> None:
        now = self._clock()
        if self._last_start is not None:
            self._wait(self._last_start + self.settings.min_interval - now)
        self._last_start = self._clock()

    def _attempt(
        self, url: str, params: Sequence[tuple[str, str]], *, kind: str, empty_ok: bool
    ) -> dict[str, Any] | _Retry | None:
        self._pace()
        self.stats.sent[kind] += 1
        started = self._clock()
        try:
            answer = self._get(url, params, kind)
        finally:
            self.stats.http_seconds += self._clock() - started
        if isinstance(answer, _Retry):
            return answer
        status, body, headers = answer
        if status == 200:
            return _decode_object(body, kind, url)
        return self._judge_failure(status, body, headers, url, kind=kind, empty_ok=empty_ok)

    def _get(
        self, url: str, params: Sequence[tuple[str, str]], kind: str
    ) -> tuple[int, bytes, Mapping[str, str]] | _Retry:
        """(status, body, headers) of one GET, or _Retry for a failure worth retrying."""
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        try:
            log.debug("GET %s %s", display_url(url), _describe(params))
            response = self._session.get(url, params=list(params), timeout=timeout, stream=True)
            return response.status_code, self._read_body(response, kind), response.headers
        except requests.Timeout:
            return _Retry(f"no answer within {self.settings.read_timeout:g} s (timeout)")
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise ConfigError(
                f"cannot use the API URL {display_url(url)!r}: set OPENELECTRICITY_API_URL "
                "to an http(s) URL such as " + DEFAULT_API_URL
            ) from exc
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            return _Retry(f"connection failed ({type(exc).__name__})")
        except requests.RequestException as exc:
            # Anything else requests raises (too many redirects, a bad header) will not
            # change on a retry. Its text may hold the URL, never the key (a header).
            raise ApiError(
                f"{kind} request to {display_url(url)} failed: {type(exc).__name__}"
            ) from exc

    def _judge_failure(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        *,
        kind: str,
        empty_ok: bool,
    ) -> _Retry | None:
        """None for "no data here", _Retry for 429 and 5xx; ApiError for everything else."""
        message = self._redact(read_error_message(body))
        if status == 416 and empty_ok:
            return None
        if status == 404:
            # OE answers "no rows" with its error envelope; a 404 without it (FastAPI's
            # {"detail": "Not Found"}, a proxy's HTML page) means the URL is wrong.
            if not _is_oe_envelope(body):
                raise ApiError(
                    f"{display_url(url)} answered 404 ({message}): check "
                    f"OPENELECTRICITY_API_URL (it should end in /v4, e.g. {DEFAULT_API_URL})"
                )
            if not empty_ok:
                raise ApiError(f"the API found nothing for the {kind} request: {message}")
            log.info("%s: no data (%s)", kind, message)
            return None
        if status == 401:
            raise KeyRejected(
                f"the API key was rejected (401 {message}): check OPENELECTRICITY_API_KEY, "
                f"or get a free key at {KEY_SIGNUP_URL}",
                message,
            )
        if status == 429 or status >= 500:
            return _Retry(
                f"HTTP {status} ({message})", parse_retry_after(headers.get("Retry-After"))
            )
        if status in (400, 422):
            raise ApiError(f"the API refused the {kind} request ({status}): {message}")
        raise ApiError(f"the API answered HTTP {status} to the {kind} request: {message}")

    def _read_body(self, response: requests.Response, kind: str) -> bytes:
        """The whole body, or ApiError once it passes ``max_response_bytes`` (read no further)."""
        cap = self.settings.max_response_bytes
        too_big = ApiError(
            f"the API's answer to the {kind} request is over {cap / 2**20:,.0f} MiB: "
            "ask for fewer facilities or days at once (--facilities, --start/--end)"
        )
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:
                raise too_big
            body = bytearray()
            for chunk in response.iter_content(chunk_size=1 << 16):
                body += chunk
                if len(body) > cap:
                    raise too_big
            return bytes(body)
        finally:
            response.close()

    def _redact(self, text: str) -> str:
        """One line of at most 300 characters without the key. The key goes first: cutting
        first could leave a piece of it at the end."""
        key = self.settings.api_key
        if key:
            text = text.replace(key, "***")
        return " ".join(text.split())[:300]


def _window_params(start: datetime, end: datetime | None) -> list[tuple[str, str]]:
    params = [("date_start", format_request_time(start))]
    if end is not None:
        params.append(("date_end", format_request_time(end)))
    return params


def _decode_object(body: bytes, kind: str, url: str) -> dict[str, Any] | _Retry:
    """A 200's JSON object; _Retry for a cut or broken body, ApiError for JSON nested too
    deeply to decode (no network fault makes that: the same question gets the same answer)
    or for JSON that is not an object."""
    try:
        payload = json.loads(body)
    except RecursionError as exc:
        raise ApiError(
            f"{kind} request to {display_url(url)}: the answer is JSON nested too deeply to "
            "read; check that OPENELECTRICITY_API_URL is the OpenElectricity API"
        ) from exc
    except UNREADABLE_JSON:
        return _Retry(f"truncated or invalid JSON ({len(body)} bytes)")
    if not isinstance(payload, dict):
        raise ApiError(
            f"{kind} request to {display_url(url)}: the answer is JSON but not an object; "
            "check that OPENELECTRICITY_API_URL is the OpenElectricity API"
        )
    return payload


def _is_oe_envelope(body: bytes) -> bool:
    try:
        payload = json.loads(body)
    except UNREADABLE_JSON:
        return False
    return isinstance(payload, Mapping) and "error" in payload and "detail" not in payload


def _describe(params: Sequence[tuple[str, str]]) -> str:
    codes = [v for k, v in params if k == "facility_code"]
    rest = [f"{k}={v}" for k, v in params if k != "facility_code"]
    if codes:
        rest.insert(0, f"{len(codes)} facility codes")
    return " ".join(rest)
