"""The simulator's NEMweb face: AEMO's ``/Reports/...`` directories and files, live.

Served beside the OE face, at the same host and port, from the same dataset and clock
(``--live`` only; without it every ``/Reports/`` path is a 404 saying so):

* ``/Reports/Current/Dispatch_SCADA/`` and ``/Reports/Current/DispatchIS_Reports/``: one zip
  per published 5-minute interval (``PUBLIC_DISPATCHSCADA_<YYYYMMDDHHMM>_<id>.zip``, the
  stamp the interval's end in NEM time), the last three simulated days
  (:mod:`oesim.nemweb_publish` says when each appears);
* ``/Reports/Current/CDEII/CO2EII_AVAILABLE_GENERATORS.CSV``: the emissions factors;
* ``/Reports/Archive/Dispatch_SCADA/`` and ``/Reports/Archive/DispatchIS_Reports/``: a zip of
  each whole NEM day's 5-minute zips (``PUBLIC_DISPATCHSCADA_<YYYYMMDD>.zip``), for the
  ``ARCHIVE_DAYS`` days before Current's oldest day, up to yesterday;
* ``/Reports/`` and ``/Reports/Current/``, ``/Reports/Archive/``: their subdirectories.

Every answer has Last-Modified (the simulated publish time), an ETag and honours
If-None-Match and If-Modified-Since (304). Paths are matched without regard to case, as IIS
does. :mod:`oesim.nemweb_data` makes the numbers equal the OE face's.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from oesim.api import Response
from oesim.faults import FaultInjector
from oesim.nem_market import day_and_slot, day_stamps
from oesim.nemweb_data import DayData, aemo_units, build_day, cdeii_csv, dispatchis_csv, scada_csv
from oesim.nemweb_files import (
    Entry,
    file_stamp,
    index_html,
    nem_datetime,
    parse_file_stamp,
    zip_members,
)
from oesim.nemweb_publish import (
    CURRENT_S,
    DAY_S,
    FIVE_MIN_S,
    PUBLISH_DELAY_S,
    PUBLISH_JITTER_S,
    Listed,
    Schedule,
    last_drop,
    publish_times,
)

ARCHIVE_DAYS = 14  # daily zips kept before Current's oldest day
ARCHIVE_DELAY_S = 3_600  # a day's zip appears an hour after its last interval
NOT_LIVE = "NEMweb needs --live: the simulator serves /Reports/ only when it follows its clock\n"
NOT_FOUND_HTML = (
    "<html><head><title>404 - File or directory not found.</title></head><body>"
    "<h2>404 - File or directory not found.</h2></body></html>\r\n"
)
CDEII_NAME = "CO2EII_AVAILABLE_GENERATORS.CSV"
SEQ_BASE = 440_000_000  # file ids: 16 digits, growing with time, as AEMO's do
NEM_OFFSET_S = 10 * 3_600
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stream:
    """One 5-minute report: its directory, file prefix and id offset."""

    directory: str
    prefix: str
    offset: int

    def name(self, t: int, file_id: int) -> str:
        return f"{self.prefix}_{file_stamp(t)}_{file_id:016d}.zip"

    def file_id(self, t: int, version: int) -> int:
        return SEQ_BASE + (t // FIVE_MIN_S) * 8 + self.offset + version


SCADA = Stream("Dispatch_SCADA", "PUBLIC_DISPATCHSCADA", 0)
DISPATCHIS = Stream("DispatchIS_Reports", "PUBLIC_DISPATCHIS", 4)
STREAMS = {s.directory.lower(): s for s in (SCADA, DISPATCHIS)}


@dataclass(frozen=True)
class Resource:
    """A body to serve, with its content type and simulated modification time."""

    body: bytes
    content_type: str
    modified: int

    @property
    def etag(self) -> str:
        return '"' + hashlib.blake2b(self.body, digest_size=8).hexdigest() + '"'


class Lru(OrderedDict):
    """A small least-recently-used cache (callers hold the face's lock)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class NemwebFace:
    """NEMweb's directories and files for one dataset, with their publication schedule and
    caches (thread-safe); :func:`handle_nemweb` answers a request from them."""

    def __init__(self, dataset: Any, seed: int = 0) -> None:
        self.dataset = dataset
        self.schedule = Schedule(seed)
        self._duids: list[str] | None = None
        self._lock = threading.RLock()
        self._days: Lru = Lru(6)
        self._files: Lru = Lru(4_000)
        self._indexes: Lru = Lru(16)
        self._archives: Lru = Lru(4)
        self._archive_sizes: dict[tuple[str, int], int] = {}
        self.archive_span = ARCHIVE_DAYS

    # --- numbers and files -----------------------------------------------------------

    def duids(self) -> list[str]:
        if self._duids is None:
            units = aemo_units(self.dataset.facilities())
            self._duids = sorted({str(u["code"]) for _, u in units})
        return self._duids

    def day(self, day: int) -> DayData:
        with self._lock:
            return self._days.get_or_make(day, lambda: build_day(self.dataset, self.duids(), day))

    def file(self, stream: Stream, t: int, version: int, replaced: bool = False) -> bytes:
        """The zip of interval ``t`` in ``version`` (``replaced``: the first, wrong one)."""
        key = (stream.prefix, t, version, replaced)
        with self._lock:
            return self._files.get_or_make(
                key, lambda: self._make_file(stream, t, version, replaced)
            )

    def _make_file(self, stream: Stream, t: int, version: int, replaced: bool) -> bytes:
        days, slots = day_and_slot([t])
        data, slot = self.day(int(days[0])), int(slots[0])
        fault = self.schedule.faults().get(t)
        after = fault.seconds if fault is not None and fault.kind == "replaced" else 0
        created = int(publish_times(self.schedule.seed, [t])[0]) + version * after - 2
        file_id = stream.file_id(t, version)
        if stream is SCADA:
            csv = scada_csv(data, slot, created, file_id, replaced)
        else:
            csv = dispatchis_csv(data, slot, created, file_id)
        name = stream.name(t, file_id)
        return zip_members([(name[: -len(".zip")] + ".CSV", csv)], created)

    def listed_file(self, stream: Stream, entry: Listed) -> bytes:
        return self.file(stream, entry.t, entry.version, entry.replaced)

    # --- Current -----------------------------------------------------------------------

    def current_index(self, stream: Stream, now: float) -> Resource:
        listed = self.schedule.current(now)
        key = (stream.prefix, tuple(listed))
        with self._lock:
            body = self._indexes.get_or_make(key, lambda: self._current_html(stream, listed))
        newest = max([e.appeared for e in listed], default=0)
        return Resource(body, "text/html", max(newest, last_drop(now)))

    def _current_html(self, stream: Stream, listed: list[Listed]) -> bytes:
        entries = [
            Entry(
                stream.name(e.t, stream.file_id(e.t, e.version)),
                e.appeared,
                len(self.listed_file(stream, e)),
            )
            for e in listed
        ]
        return index_html(f"/Reports/Current/{stream.directory}/", entries)

    def current_file(self, stream: Stream, name: str, now: float) -> Resource | None:
        match = re.fullmatch(rf"{stream.prefix}_(\d{{12}})_(\d{{16}})\.ZIP", name.upper())
        if match is None:
            return None
        try:
            t = parse_file_stamp(match.group(1))
        except ValueError:  # twelve digits that are no time
            return None
        version = int(match.group(2)) - stream.file_id(t, 0)
        entry = self.schedule.find(t, version, now) if version in (0, 1) else None
        if entry is None:
            return None
        return Resource(self.listed_file(stream, entry), "application/zip", entry.appeared)

    def cdeii(self, now: float) -> Resource:
        created = (int(now) + NEM_OFFSET_S) // DAY_S * DAY_S - NEM_OFFSET_S
        with self._lock:
            body = self._files.get_or_make(
                ("CDEII", created),
                lambda: cdeii_csv(self.dataset.facilities(), created, SEQ_BASE + created // 300),
            )
        return Resource(body, "text/csv", created)

    # --- Archive -----------------------------------------------------------------------

    def archive_days(self, now: float) -> list[int]:
        """NEM days (days since 1970 in NEM time) with a daily zip at ``now``."""
        oldest_current = int(day_and_slot([int(now) - CURRENT_S + FIVE_MIN_S])[0][0])
        newest = (int(now) - ARCHIVE_DELAY_S + NEM_OFFSET_S) // DAY_S - 1
        return list(range(oldest_current - self.archive_span, newest + 1))

    def archive_index(self, stream: Stream, now: float) -> Resource:
        days = self.archive_days(now)
        entries = [
            Entry(self.archive_name(stream, d), day_published(d), self.archive_size(stream, d))
            for d in days
        ]
        modified = max([e.modified for e in entries], default=0)
        body = index_html(f"/Reports/Archive/{stream.directory}/", entries)
        return Resource(body, "text/html", modified)

    def archive_size(self, stream: Stream, day: int) -> int:
        """Bytes of a day's zip: built once to know, then remembered (a few per day)."""
        key = (stream.prefix, day)
        with self._lock:
            if key not in self._archive_sizes:
                self._archive_sizes[key] = len(self.archive(stream, day))
            return self._archive_sizes[key]

    def archive_name(self, stream: Stream, day: int) -> str:
        return f"{stream.prefix}_{nem_datetime(day * DAY_S - NEM_OFFSET_S):%Y%m%d}.zip"

    def archive(self, stream: Stream, day: int) -> bytes:
        with self._lock:
            return self._archives.get_or_make(
                (stream.prefix, day), lambda: self._make_archive(stream, day)
            )

    def _make_archive(self, stream: Stream, day: int) -> bytes:
        """The day's 5-minute zips in their final version (a file Current has built is
        reused; the others are made without filling the cache)."""
        members = []
        for t in day_stamps(day).tolist():
            version = self.schedule.final_version(t)
            members.append(
                (
                    stream.name(t, stream.file_id(t, version)),
                    self._files.get((stream.prefix, t, version, False))
                    or self._make_file(stream, t, version, False),
                )
            )
        return zip_members(members, day_published(day))

    def archive_file(self, stream: Stream, name: str, now: float) -> Resource | None:
        for day in self.archive_days(now):
            if self.archive_name(stream, day).upper() == name.upper():
                return Resource(self.archive(stream, day), "application/zip", day_published(day))
        return None


def day_published(day: int) -> int:
    """When NEM day ``day``'s Archive zip appears."""
    return (day + 1) * DAY_S - NEM_OFFSET_S + ARCHIVE_DELAY_S


# --- HTTP ----------------------------------------------------------------------------------

REPORTS = "/reports"


def is_nemweb_path(path: str) -> bool:
    lower = path.lower()
    return lower == REPORTS or lower.startswith(REPORTS + "/")


def http_date(epoch: int) -> str:
    return format_datetime(nem_datetime(epoch).astimezone(UTC), usegmt=True)


def not_modified(resource: Resource, headers: Mapping[str, str]) -> bool:
    """If-None-Match (an ETag or ``*``) decides when present, else If-Modified-Since."""
    tags = headers.get("if-none-match")
    if tags is not None:
        return tags.strip() == "*" or resource.etag in [t.strip() for t in tags.split(",")]
    since = headers.get("if-modified-since")
    if not since:
        return False
    try:
        return int(parsedate_to_datetime(since).timestamp()) >= resource.modified
    except (TypeError, ValueError, IndexError):
        return False


def respond(resource: Resource | None, headers: Mapping[str, str]) -> Response:
    """200 with the body, 304 when the client's copy is current, 404 for no resource."""
    if resource is None:
        return Response(404, NOT_FOUND_HTML.encode(), "text/html")
    meta = (("Last-Modified", http_date(resource.modified)), ("ETag", resource.etag))
    if not_modified(resource, headers):
        return Response(304, b"", resource.content_type, meta)
    return Response(200, resource.body, resource.content_type, meta)


def directory_index(directory: str, names: list[str], modified: int) -> Resource:
    entries = [Entry(name, modified, None) for name in names]
    return Resource(index_html(directory, entries), "text/html", modified)


def route(face: NemwebFace, path: str, now: float) -> Resource | None:
    """The resource at ``path`` (any case, trailing slash optional) at ``now``, or None."""
    parts = [p for p in path.split("/") if p]
    lower = [p.lower() for p in parts]
    day_start = (int(now) + NEM_OFFSET_S) // DAY_S * DAY_S - NEM_OFFSET_S
    if lower == ["reports"]:
        return directory_index("/Reports/", ["Archive", "Current"], day_start)
    if lower == ["reports", "current"]:
        return directory_index("/Reports/Current/", ["CDEII", *DIRECTORIES], day_start)
    if lower == ["reports", "archive"]:
        return directory_index("/Reports/Archive/", list(DIRECTORIES), day_start)
    if lower[:3] == ["reports", "current", "cdeii"]:
        return _cdeii_route(face, parts[3:], now)
    if len(lower) in (3, 4) and lower[:2] in (["reports", "current"], ["reports", "archive"]):
        stream = STREAMS.get(lower[2])
        if stream is not None:
            return _stream_route(face, stream, lower[1], parts[3:], now)
    return None


DIRECTORIES = ("DispatchIS_Reports", "Dispatch_SCADA")


def _cdeii_route(face: NemwebFace, rest: list[str], now: float) -> Resource | None:
    cdeii = face.cdeii(now)
    if not rest:
        entry = Entry(CDEII_NAME, cdeii.modified, len(cdeii.body))
        body = index_html("/Reports/Current/CDEII/", [entry])
        return Resource(body, "text/html", cdeii.modified)
    if len(rest) == 1 and rest[0].upper() == CDEII_NAME:
        return cdeii
    return None


def _stream_route(
    face: NemwebFace, stream: Stream, where: str, rest: list[str], now: float
) -> Resource | None:
    if where == "current":
        return face.current_file(stream, rest[0], now) if rest else face.current_index(stream, now)
    return face.archive_file(stream, rest[0], now) if rest else face.archive_index(stream, now)


def handle_nemweb(
    face: NemwebFace, live: bool, method: str, path: str, headers: Mapping[str, str], now: float
) -> Response:
    """Answer one ``/Reports/...`` request at simulated epoch ``now`` (headers lower-case)."""
    if not live:
        return Response(404, NOT_LIVE.encode(), "text/plain")
    if method not in ("GET", "HEAD"):
        return Response(405, b"Method Not Allowed\r\n", "text/plain", (("Allow", "GET, HEAD"),))
    try:
        return respond(route(face, path, now), headers)
    except Exception:
        log.exception("NEMweb face error on %s", path)
        return Response(500, b"Internal Server Error\r\n", "text/plain")


# --- faults and the admin route ------------------------------------------------------------

NEMWEB_FAULTS = ("late", "missing", "replaced", "403", "truncated")
# The transport faults the NEMweb kinds arm (oesim.faults), and the paths they hit.
TRANSPORT_PATHS = {"403": "/Reports/", "truncated": ".zip"}


def parse_nemweb_fault(text: str) -> tuple[str, int, float | None]:
    """``KIND[:N[:SECONDS]]`` -> (kind, N, seconds); ValueError with a one-line reason."""
    kind, _, rest = text.strip().partition(":")
    count_text, _, seconds_text = rest.partition(":")
    if kind not in NEMWEB_FAULTS:
        raise ValueError(f"unknown NEMweb fault {kind!r}: use one of {', '.join(NEMWEB_FAULTS)}")
    try:
        count = int(count_text or 1)
        seconds = float(seconds_text) if seconds_text else None
    except ValueError:
        raise ValueError(f"NEMweb fault {text!r}: use KIND[:N[:SECONDS]]") from None
    if count < 1:
        raise ValueError(f"NEMweb fault count must be >= 1 in {text!r}")
    return kind, count, seconds


def arm_fault(
    face: NemwebFace,
    injector: FaultInjector,
    kind: str,
    count: int,
    now: float,
    seconds: float | None = None,
) -> None:
    """Arm a NEMweb fault: the schedule's for the next ``count`` intervals, or the
    transport's ``403``/``truncated`` for the next ``count`` matching requests."""
    if kind in TRANSPORT_PATHS:
        injector.inject(kind, count, TRANSPORT_PATHS[kind])
    elif kind in NEMWEB_FAULTS:
        face.schedule.arm(kind, count, now, seconds)
    else:
        raise ValueError(f"unknown NEMweb fault {kind!r}: use one of {', '.join(NEMWEB_FAULTS)}")


def nemweb_status(face: NemwebFace, injector: FaultInjector, live: bool, now: float) -> dict:
    """What ``GET /__sim__/nemweb`` shows: the clock, the newest files, the armed faults."""
    listed = face.schedule.current(now) if live else []
    newest = listed[-1] if listed else None
    return {
        "live": live,
        "now": nem_datetime(now).isoformat(),
        "publish_delay_s": PUBLISH_DELAY_S,
        "publish_jitter_s": PUBLISH_JITTER_S,
        "current_files": len(listed),
        "newest_interval": nem_datetime(newest.t).isoformat() if newest else None,
        "newest_file": SCADA.name(newest.t, SCADA.file_id(newest.t, newest.version))
        if newest
        else None,
        "archive_days": [face.archive_name(SCADA, d)[-12:-4] for d in face.archive_days(now)],
        "faults": [
            {"interval_end": nem_datetime(t).isoformat(), "kind": f.kind, "seconds": f.seconds}
            for t, f in sorted(face.schedule.faults().items())
        ],
        "transport_faults": [
            vars(r) for r in injector.pending() if r.path_contains in TRANSPORT_PATHS.values()
        ],
    }


def nemweb_admin(
    face: NemwebFace,
    injector: FaultInjector,
    live: bool,
    method: str,
    path: str,
    params: Mapping[str, str | None],
    now: float,
) -> dict | None:
    """``/__sim__/nemweb`` (GET: state) and ``/__sim__/nemweb/faults`` (POST ``kind``,
    ``count``, ``seconds``: arm; DELETE: clear every NEMweb fault); None: no such route."""
    if path == "/__sim__/nemweb/faults":
        if method == "POST":
            seconds = params.get("seconds")
            kind = params.get("kind") or ""
            count = int(params.get("count") or 1)
            arm_fault(face, injector, kind, count, now, float(seconds) if seconds else None)
        elif method == "DELETE":
            face.schedule.clear()
            for path_contains in TRANSPORT_PATHS.values():
                injector.discard(path_contains)
    elif path != "/__sim__/nemweb":
        return None
    return nemweb_status(face, injector, live, now)
