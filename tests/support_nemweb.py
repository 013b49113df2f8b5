"""A fake NEMweb for tests: MMS files built from a small deterministic table, served over real
HTTP on 127.0.0.1 with IIS-style indexes, ETag/Last-Modified and 304, on an injected clock.

* :class:`FakeClock`: wall (monotonic) and UTC seconds that only move when a test (or a wait
  it injected) advances them.
* :class:`FakeStop`: a ``threading.Event`` whose ``wait`` advances the fake clock instead of
  sleeping, and sets itself once the clock passes ``until``.
* :class:`FakeNemweb`: Current lists each interval's file ``delay`` seconds after its end,
  for ``current_span`` seconds; older days are in Archive as a zip of zips. Faults:
  ``missing`` intervals, ``sequences`` (a replaced file), ``forbid`` (403 answers).
"""

from __future__ import annotations

import functools
import io
import threading
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nemlive.common.nemtime import NEM_TZ
from nemlive.extract import nemweb, rollup

INTERVAL_S = 300
# 2030-01-10 00:00 NEM time: the fake clock's start.
T0 = int(datetime(2030, 1, 10, tzinfo=NEM_TZ).timestamp())


def _unit(code: str, fueltech: str) -> dict[str, Any]:
    return {
        "code": code,
        "fueltech_id": fueltech,
        "status_id": "operating",
        "capacity_registered": 100,
    }


def _facility(code: str, region: str, units: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "network_id": "NEM",
        "network_region": region,
        "location": {"lat": -33.0, "lng": 150.0},
        "units": units,
    }


# Coal with two units; a battery both bidirectional and split (counted once); a battery with
# split units only (netted); pumped hydro (pump netted); wind; gas without a CDEII factor.
FACILITIES = {
    "data": [
        _facility("COAL", "NSW1", [_unit("COAL1", "coal_black"), _unit("COAL2", "coal_black")]),
        _facility(
            "BATT",
            "SA1",
            [
                _unit("BATT1", "battery"),
                _unit("BATTL1", "battery_charging"),
                _unit("BATTG1", "battery_discharging"),
            ],
        ),
        _facility(
            "SPLIT",
            "VIC1",
            [_unit("SPLITG1", "battery_discharging"), _unit("SPLITL1", "battery_charging")],
        ),
        _facility("PUMPH", "NSW1", [_unit("PUMPH1", "hydro"), _unit("PUMPHP1", "pumps")]),
        _facility("WIND", "SA1", [_unit("WIND1", "wind")]),
        _facility("GAS", "QLD1", [_unit("GAS1", "gas_ocgt")]),
    ]
}
FACTORS = {"COAL1": 0.9, "COAL2": 0.9, "WIND1": 0.0}


def lookup() -> rollup.Lookup:
    return rollup.build_lookup(FACILITIES, "NEM")


class StaticFacilities:
    """The FacilityList the CLI would give: here a fixed lookup; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def lookup(self) -> rollup.Lookup:
        self.calls += 1
        return lookup()


def scada_at(t: int, sequence: int = 1) -> dict[str, float]:
    """DUID -> MW at interval end ``t``: deterministic, a battery charging on odd intervals.
    A later ``sequence`` adds 1000 MW to COAL1 (to see a replaced file win)."""
    k = (t // INTERVAL_S) % 7
    batt = 50.0 - 20.0 * k if k % 2 else 30.0
    return {
        "COAL1": 400.0 + k + (1000.0 if sequence > 1 else 0.0),
        "COAL2": 350.5,
        "BATT1": batt,
        "BATTL1": max(-batt, 0.0),
        "BATTG1": max(batt, 0.0),
        "SPLITG1": 10.0 * (k % 2),
        "SPLITL1": 5.0 * (1 - k % 2),
        "PUMPH1": 120.0,
        "PUMPHP1": 40.0,
        "WIND1": 75.25,
        "GAS1": 60.0,
        "UNKNOWN9": 1.0,
    }


def price_at(t: int) -> dict[str, float]:
    k = (t // INTERVAL_S) % 5
    return {r: 50.0 + 10 * i + k for i, r in enumerate(("NSW1", "QLD1", "SA1", "TAS1", "VIC1"))}


def nem_stamp(t: int) -> str:
    return datetime.fromtimestamp(t, NEM_TZ).strftime("%Y/%m/%d %H:%M:%S")


def mms_report(report: str, rows: list[str]) -> str:
    head = f"C,NEMP.WORLD,{report},AEMO,PUBLIC,2030/01/01,00:00:00,0000000001,{report},0000000001"
    lines = [head, *rows]
    lines.append(f'C,"END OF REPORT",{len(lines) + 1}')
    return "\r\n".join(lines) + "\r\n"


def scada_csv(t: int, values: dict[str, float]) -> str:
    # Columns in AEMO's order, with one extra at the end.
    rows = ["I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE,LASTCHANGED"]
    rows += [
        f'D,DISPATCH,UNIT_SCADA,1,"{nem_stamp(t)}",{duid},{mw},"{nem_stamp(t)}"'
        for duid, mw in values.items()
    ]
    return mms_report("DISPATCHSCADA", rows)


def dispatchis_csv(t: int, prices: dict[str, float]) -> str:
    s = nem_stamp(t)
    rows = ["I,DISPATCH,PRICE,5,SETTLEMENTDATE,RUNNO,REGIONID,INTERVENTION,RRP,EXTRA"]
    rows += [f'D,DISPATCH,PRICE,5,"{s}",1,{r},0,{p},x' for r, p in prices.items()]
    rows.append(
        "I,DISPATCH,REGIONSUM,8,SETTLEMENTDATE,RUNNO,REGIONID,INTERVENTION,TOTALDEMAND,NETINTERCHANGE"
    )
    rows += [f'D,DISPATCH,REGIONSUM,8,"{s}",1,{r},0,{1000 + p},0' for r, p in prices.items()]
    rows.append(
        "I,DISPATCH,INTERCONNECTORRES,3,SETTLEMENTDATE,RUNNO,INTERCONNECTORID,INTERVENTION,"
        "METEREDMWFLOW,MWFLOW,MWLOSSES"
    )
    flows = {"NSW1-QLD1": -200.0, "VIC1-NSW1": 300.0, "V-SA": 100.0, "T-V-MNSP1": 50.0}
    rows += [
        f'D,DISPATCH,INTERCONNECTORRES,3,"{s}",1,{i},0,{f + 7},{f},1' for i, f in flows.items()
    ]
    return mms_report("DISPATCHIS", rows)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def file_name(report: str, t: int, sequence: int) -> str:
    stamp = datetime.fromtimestamp(t, NEM_TZ).strftime("%Y%m%d%H%M")
    return f"PUBLIC_{report}_{stamp}_{sequence:016d}.zip"


@functools.lru_cache(maxsize=4096)
def report_zip(report: str, t: int, sequence: int = 1) -> bytes:
    text = (
        scada_csv(t, scada_at(t, sequence))
        if report == nemweb.SCADA
        else dispatchis_csv(t, price_at(t))
    )
    return zipped({file_name(report, t, sequence).replace(".zip", ".CSV"): text.encode()})


def iis_index(path: str, names: Iterable[str]) -> str:
    links = "".join(
        f'Monday, January 7, 2030  1:05 PM        12345 <A HREF="{path}{n}">{n}</A><br>'
        for n in names
    )
    return (
        f"<html><head><title>nemweb.com.au - {path}</title></head><body><H1>{path}</H1><hr>"
        f'<pre><A HREF="/Reports/Current/">[To Parent Directory]</A><br><br>{links}</pre><hr></body></html>'
    )


CDEII_TEXT = mms_report(
    "CO2EII",
    [
        "I,CO2EII,PUBLISHING,1,STATIONNAME,DUID,GENSETID,REGIONID,CO2E_EMISSIONS_FACTOR",
        *[f"D,CO2EII,PUBLISHING,1,Station,{d},{d},NSW1,{f}" for d, f in FACTORS.items()],
    ],
)
CDEII_NAME = "CO2EII_AVAILABLE_GENERATORS_2030_01_20300101000000.CSV"


@dataclass
class FakeClock:
    """Wall (monotonic) seconds from 0 and UTC = ``utc0`` + wall × ``speed`` (a sped-up
    simulator's clock); moved by ``advance``."""

    utc0: float = float(T0)
    wall_s: float = 0.0
    speed: float = 1.0
    waits: list[float] = field(default_factory=list)
    hooks: list[Callable[[], None]] = field(default_factory=list)

    def wall(self) -> float:
        return self.wall_s

    def utc(self) -> float:
        return self.utc0 + self.wall_s * self.speed

    def advance(self, seconds: float) -> None:
        self.wall_s += max(seconds, 0.0)
        for hook in self.hooks:
            hook()

    def sleep(self, seconds: float) -> bool:
        """A ``retry.Wait``: records the wait, moves the clock, never stopped."""
        self.waits.append(seconds)
        self.advance(seconds)
        return False


class FakeStop(threading.Event):
    """``wait`` moves the fake clock; the event sets itself once UTC reaches ``until``."""

    def __init__(self, clock: FakeClock, until: float) -> None:
        super().__init__()
        self.clock = clock
        self.until = until
        self.slept: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if self.is_set():
            return True
        self.slept.append(timeout or 0.0)
        self.clock.advance(timeout or 0.0)
        if self.clock.utc() >= self.until:
            self.set()
        return self.is_set()


@dataclass
class FakeNemweb:
    """The routes of NEMweb on the fake clock. ``requests`` counts GETs by path."""

    clock: FakeClock
    delay: float = 70.0
    current_span: float = 3 * 3600.0
    start: int = T0 - 3 * 86_400  # the first interval it has data for
    missing: set[int] = field(default_factory=set)
    sequences: dict[int, int] = field(default_factory=dict)
    forbid: int = 0
    last_modified: bool = True  # send Last-Modified on indexes (IIS may not)
    fail: dict[str, int] = field(default_factory=dict)  # path -> 503 answers left
    truncate: dict[str, int] = field(default_factory=dict)  # path -> cut answers left
    bodies: dict[str, bytes] = field(default_factory=dict)  # path -> the body served instead
    extra: list[str] = field(default_factory=list)  # names listed besides the published ones
    date_offset: float = 0.0  # seconds the Date header is off the fake clock
    requests: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def published(self, now: float) -> list[int]:
        """Interval ends whose files are out at ``now`` (within Current)."""
        newest = int(now - self.delay) // INTERVAL_S * INTERVAL_S
        oldest = max(int(now - self.current_span) // INTERVAL_S * INTERVAL_S, self.start)
        return [t for t in range(oldest, newest + 1, INTERVAL_S) if t not in self.missing]

    def listing(self, report: str) -> list[str]:
        names = [
            file_name(report, t, self.sequences.get(t, 1)) for t in self.published(self.clock.utc())
        ]
        return names + [n for n in self.extra if f"_{report}_" in n]

    def archive(self, report: str, day: date) -> bytes | None:
        times = [t for t in nemweb.day_intervals(day) if self.start <= t and t not in self.missing]
        if not times or max(times) > self.clock.utc():  # out once the day is over
            return None
        return zipped({file_name(report, t, 1): report_zip(report, t) for t in times})

    def answer(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        if path in self.bodies:
            return 200, self.bodies[path], {}
        for report in nemweb.REPORTS:
            current = nemweb.current_dir(report)
            if path == current:
                names = self.listing(report)
                return 200, iis_index(current, names).encode(), self._validators(report, names)
            if path.startswith(current):
                return self._file(report, path[len(current) :])
            if path.startswith(nemweb.archive_dir(report)):
                stamp = path.rsplit("_", 1)[-1].removesuffix(".zip")
                data = self.archive(report, datetime.strptime(stamp, "%Y%m%d").date())
                return (404, b"", {}) if data is None else (200, data, {})
        if path == nemweb.CDEII_DIR:
            return 200, iis_index(path, [CDEII_NAME]).encode(), {"ETag": '"cdeii"'}
        if path == nemweb.CDEII_DIR + CDEII_NAME:
            return 200, CDEII_TEXT.encode(), {}
        return 404, b"not here", {}

    def _validators(self, report: str, names: list[str]) -> dict[str, str]:
        etag = f'"{report}-{len(names)}-{zlib.crc32(" ".join(names).encode()):08x}"'
        newest = self.published(self.clock.utc())
        when = (newest[-1] + self.delay) if newest else self.clock.utc()
        if not self.last_modified:
            return {"ETag": etag}
        return {
            "ETag": etag,
            "Last-Modified": format_datetime(datetime.fromtimestamp(when, UTC), usegmt=True),
        }

    def _file(self, report: str, name: str) -> tuple[int, bytes, dict[str, str]]:
        f = nemweb.parse_file_name(name)
        if f is None or name not in self.listing(report):
            return 404, b"", {}
        return 200, report_zip(report, f.interval_end, f.sequence), {}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeNemweb

    def do_GET(self) -> None:
        fake = self.server.fake  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        fake.requests[path] += 1
        fake.log.append((path, {k: v for k, v in self.headers.items()}))
        status, body, headers = self._decide(fake, path)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        declared = len(body)
        if fake.truncate.get(path, 0) > 0:
            fake.truncate[path] -= 1
            body = body[: len(body) // 2]
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)

    def _decide(self, fake: FakeNemweb, path: str) -> tuple[int, bytes, dict[str, str]]:
        if fake.forbid > 0:
            fake.forbid -= 1
            return 403, b"<html>Forbidden</html>", {}
        if fake.fail.get(path, 0) > 0:
            fake.fail[path] -= 1
            return 503, b"busy", {}
        status, body, headers = fake.answer(path)
        etag = headers.get("ETag")
        if status == 200 and etag and self.headers.get("If-None-Match") == etag:
            return 304, b"", headers
        return status, body, headers

    def log_message(self, *args: object) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        # Dated by the fake clock, as NEMweb dates its answers by its own.
        fake = self.server.fake  # type: ignore[attr-defined]
        clock = getattr(fake, "clock", None)
        if timestamp is None and clock is not None:
            timestamp = clock.utc() + fake.date_offset
        return super().date_time_string(timestamp)


class Server:
    """``FakeNemweb`` (or any handler class) on 127.0.0.1; ``url`` is its base."""

    def __init__(self, fake: Any, handler: type[BaseHTTPRequestHandler] = _Handler) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.fake = fake  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
