"""AEMO's MMS CSV format (NEMweb reports) -> typed rows, and interconnectors -> regions (pure).

The container, as AEMO writes it:

* ``C`` rows are control rows. The first is a header; the last is
  ``C,"END OF REPORT",<n>``, where ``n`` counts every line of the file *including* the first
  ``C`` row and the END row itself (checked on real CDEII and MMSDM files: 389 lines say 389).
* ``I,<REPORT>,<TABLE>,<VERSION>,COL1,...`` names a table's columns; the ``D`` rows after it
  (``D,<REPORT>,<TABLE>,<VERSION>,v1,...``) hold that table's data. One file may hold several
  tables, and a table's columns are found by name, never by position.
* Times are ``"YYYY/MM/DD HH:MM:SS"`` in NEM time (UTC+10, no daylight saving) and mark the
  *end* of the interval. Lines may end in CRLF; values holding commas or quotes are quoted,
  with ``""`` for a quote.

Nothing here reads files or the network: callers pass bytes or text.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from nemlive.common.errors import InputError
from nemlive.common.nemtime import NEM_TZ

# A NEMweb CSV is at most a few MB; a daily Archive zip of 5-minute zips some tens of MB.
# 64 MiB per member bounds the memory a hostile or broken zip can take (a zip bomb).
MAX_MEMBER_BYTES = 64 * 1024 * 1024
# ... and all members together, and how many there are (inner zips' members included).
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 1_000
# A NEMweb zip, or an Archive zip of such zips: nothing deeper is real.
MAX_ZIP_DEPTH = 2
END_OF_REPORT = "END OF REPORT"
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"

# Interconnector id -> (from region, to region): a positive flow runs from the first to the
# second (AEMO's convention, the order of the regions in the id).
INTERCONNECTORS: dict[str, tuple[str, str]] = {
    "NSW1-QLD1": ("NSW1", "QLD1"),  # QNI
    "N-Q-MNSP1": ("NSW1", "QLD1"),  # Terranora (Directlink)
    "VIC1-NSW1": ("VIC1", "NSW1"),
    "T-V-MNSP1": ("TAS1", "VIC1"),  # Basslink
    "V-SA": ("VIC1", "SA1"),  # Heywood
    "V-S-MNSP1": ("VIC1", "SA1"),  # Murraylink
}

Tables = dict[tuple[str, str], list[dict[str, str]]]


class MmsError(InputError, ValueError):
    """A NEMweb file or zip that does not follow the MMS CSV format; ``str`` is one line."""


@dataclass(frozen=True)
class UnitScada:
    """DISPATCH,UNIT_SCADA: a unit's metered output at the end of a 5-minute interval."""

    interval_end: datetime  # aware, NEM time
    duid: str
    power_mw: float


@dataclass(frozen=True)
class RegionPrice:
    """DISPATCH,PRICE: a region's energy price (RRP) for the interval ending at interval_end."""

    interval_end: datetime  # aware, NEM time
    region_id: str
    price_aud_per_mwh: float


@dataclass(frozen=True)
class RegionDemand:
    """DISPATCH or TRADING,REGIONSUM: a region's demand and AEMO's own net interchange.

    ``net_export_mw`` is AEMO's NETINTERCHANGE: positive when the region exports, the opposite
    sign of ``net_interchange`` here.
    """

    interval_end: datetime  # aware, NEM time
    region_id: str
    total_demand_mw: float
    net_export_mw: float | None


@dataclass(frozen=True)
class InterconnectorFlow:
    """DISPATCH or TRADING,INTERCONNECTORRES: one interconnector's flow in one interval (MW).

    Positive flows run from ``INTERCONNECTORS[id][0]`` to ``[1]``. ``metered_mw`` is what the
    meters measured (METEREDMWFLOW), ``target_mw`` the dispatch target (MWFLOW).
    """

    interval_end: datetime  # aware, NEM time
    interconnector_id: str
    metered_mw: float
    target_mw: float
    losses_mw: float


@dataclass(frozen=True)
class EmissionFactor:
    """CO2EII,PUBLISHING (the CDEII file): one genset's emissions intensity, t CO2-e/MWh."""

    duid: str
    genset_id: str
    region_id: str
    factor_t_per_mwh: float


# --- the container ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def parse_nem_time(text: str) -> datetime:
    """``YYYY/MM/DD HH:MM:SS`` (quotes already removed) -> an aware datetime in NEM time.

    Cached: a file repeats one interval's time on every row (an Archive day: 288 times over
    some 150,000 rows)."""
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=NEM_TZ)
    except ValueError:
        raise MmsError(f"{text!r} is not a NEM time YYYY/MM/DD HH:MM:SS") from None


def _check_end(record: list[str], lines: int) -> None:
    try:
        said = int(record[2])
    except (IndexError, ValueError):
        raise MmsError(f"line {lines}: END OF REPORT without a line count") from None
    if said != lines:
        raise MmsError(f"END OF REPORT says {said} lines but the file has {lines}")


def _add_data(tables: Tables, headers: dict, record: list[str], line: int) -> None:
    key = (record[1], record[2]) if len(record) > 3 else ("", "")
    columns = headers.get(key)
    if columns is None:
        raise MmsError(f"line {line}: D row for {','.join(key)} before its I row")
    values = record[4:]
    if len(values) != len(columns):
        raise MmsError(
            f"line {line}: D row for {','.join(key)} has {len(values)} values, "
            f"its I row {len(columns)} columns"
        )
    tables[key].append(dict(zip(columns, values, strict=True)))


def _records(text: str) -> Iterable[list[str]]:
    """The CSV records of ``text``; a record the csv module refuses (a field over its
    128 KiB limit, a NUL) raises MmsError naming its line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MmsError(f"line {reader.line_num}: not CSV ({exc})") from None
        yield record


def parse_mms(text: str) -> Tables:
    """Parse one MMS CSV report: ``(REPORT, TABLE)`` -> its rows, each ``column -> text``.

    Values stay text (times as AEMO writes them, NEM time, interval end); the typed
    extractors below convert them. A table whose I row has no D rows maps to ``[]``. Raises
    MmsError when the END OF REPORT row is missing (a truncated file), its count differs from
    the number of lines, a D row does not fit its I row, or a line is not CSV (a field over
    the csv module's 128 KiB limit). Blank lines are not counted.
    """
    tables: Tables = defaultdict(list)
    headers: dict[tuple[str, str], list[str]] = {}
    lines = 0
    ended = False
    for record in _records(text):
        if not record:
            continue
        lines += 1
        if ended:
            raise MmsError(f"line {lines}: data after END OF REPORT")
        kind = record[0]
        if kind == "C" and len(record) > 1 and record[1] == END_OF_REPORT:
            _check_end(record, lines)
            ended = True
        elif kind == "I":
            if len(record) < 5:
                raise MmsError(f"line {lines}: I row with no columns")
            headers[(record[1], record[2])] = record[4:]
            tables.setdefault((record[1], record[2]), [])  # an I row without D rows
        elif kind == "D":
            _add_data(tables, headers, record, lines)
        elif kind != "C":
            raise MmsError(f"line {lines}: row type {kind[:20]!r} is not C, I or D")
    if not ended:
        raise MmsError(f"no END OF REPORT row after {lines} lines: the file is truncated")
    return dict(tables)


def _decode(raw: bytes) -> str:
    # AEMO writes ASCII; a stray non-UTF-8 byte (a Windows code page) must not lose the file.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, budget: _Budget
) -> bytes:
    limit = min(limit, budget.bytes_left)
    if info.file_size > limit:
        raise MmsError(f"zip member {info.filename} is {info.file_size} bytes, over {limit}")
    try:
        with archive.open(info) as member:
            # The declared size can lie: read one byte past the limit to find out.
            raw = member.read(limit + 1)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
    ) as exc:
        raise MmsError(f"zip member {info.filename} does not unpack ({exc})") from None
    if len(raw) > limit:
        raise MmsError(f"zip member {info.filename} unpacks to over {limit} bytes")
    budget.bytes_left -= len(raw)
    return raw


@dataclass
class _Budget:
    """What a zip (with the zips inside it) may still unpack: bytes and members."""

    bytes_left: int
    members_left: int
    max_members: int


def read_zip(
    data: bytes,
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
) -> dict[str, str]:
    """The CSV members of a NEMweb zip as ``name -> text``; zips inside it read in turn.

    A member of an inner zip is named ``inner.zip/member.CSV``. Members that are neither CSV
    nor zip are left out. Raises MmsError for a file that is not a zip, a member that does
    not unpack (bad CRC, cut data), a member over ``max_member_bytes`` (64 MiB by default)
    uncompressed, members over ``max_total_bytes`` together (512 MiB) or more than
    ``max_members`` of them (1,000; inner zips' members count too), or zips nested deeper
    than an Archive zip of zips.
    """
    budget = _Budget(max_total_bytes, max_members, max_members)
    return _read_zip(data, max_member_bytes, budget, 1)


def _read_zip(data: bytes, limit: int, budget: _Budget, depth: int) -> dict[str, str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise MmsError(f"not a zip file ({exc})") from exc
    found: dict[str, str] = {}
    with archive:
        infos = archive.infolist()
        budget.members_left -= len(infos)
        if budget.members_left < 0:
            raise MmsError(f"the zip holds over {budget.max_members} members")
        for info in infos:
            name = info.filename
            lower = name.lower()
            if lower.endswith(".zip"):
                if depth >= MAX_ZIP_DEPTH:
                    raise MmsError(f"zip member {name} is a zip nested too deep")
                inner = _read_member(archive, info, limit, budget)
                nested = _read_zip(inner, limit, budget, depth + 1)
                found.update({f"{name}/{k}": v for k, v in nested.items()})
            elif lower.endswith(".csv"):
                found[name] = _decode(_read_member(archive, info, limit, budget))
    return found


# --- typed tables ----------------------------------------------------------------------------


def _text(row: dict[str, str], column: str) -> str:
    try:
        return row[column]
    except KeyError:
        raise MmsError(f"the table has no column {column}") from None


def _number(row: dict[str, str], column: str) -> float:
    value = _text(row, column)
    try:
        number = float(value)
    except ValueError:
        raise MmsError(f"{column} {value[:40]!r} is not a number") from None
    if not math.isfinite(number):  # inf, nan, 1e999: never a reading
        raise MmsError(f"{column} {value[:40]!r} is not a finite number")
    return number


def _optional_number(row: dict[str, str], column: str) -> float | None:
    value = row.get(column, "")
    return _number(row, column) if value else None


def _pricing_run(rows: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    # During an intervention AEMO publishes two runs per interval; INTERVENTION=0 is the
    # one that sets prices and flows. TRADING tables have no such column.
    return [r for r in rows if r.get("INTERVENTION", "0") == "0"]


def unit_scada(rows: Sequence[dict[str, str]]) -> list[UnitScada]:
    """DISPATCH,UNIT_SCADA rows -> SCADAVALUE (MW) per DUID at each interval end (NEM time)."""
    return [
        UnitScada(
            parse_nem_time(_text(r, "SETTLEMENTDATE")), _text(r, "DUID"), _number(r, "SCADAVALUE")
        )
        for r in rows
    ]


def region_prices(rows: Sequence[dict[str, str]]) -> list[RegionPrice]:
    """DISPATCH,PRICE rows -> RRP ($/MWh) per region; the pricing run (INTERVENTION 0) only."""
    return [
        RegionPrice(
            parse_nem_time(_text(r, "SETTLEMENTDATE")), _text(r, "REGIONID"), _number(r, "RRP")
        )
        for r in _pricing_run(rows)
    ]


def region_demand(rows: Sequence[dict[str, str]]) -> list[RegionDemand]:
    """DISPATCH or TRADING,REGIONSUM rows -> TOTALDEMAND (MW) and NETINTERCHANGE (MW, + =
    export) per region; the pricing run only."""
    return [
        RegionDemand(
            parse_nem_time(_text(r, "SETTLEMENTDATE")),
            _text(r, "REGIONID"),
            _number(r, "TOTALDEMAND"),
            _optional_number(r, "NETINTERCHANGE"),
        )
        for r in _pricing_run(rows)
    ]


def interconnector_flows(rows: Sequence[dict[str, str]]) -> list[InterconnectorFlow]:
    """DISPATCH or TRADING,INTERCONNECTORRES rows -> metered and target flows and losses (MW).

    The pricing run only. MWLOSSES may be blank in some rows; it is then 0.
    """
    return [
        InterconnectorFlow(
            parse_nem_time(_text(r, "SETTLEMENTDATE")),
            _text(r, "INTERCONNECTORID"),
            _number(r, "METEREDMWFLOW"),
            _number(r, "MWFLOW"),
            _optional_number(r, "MWLOSSES") or 0.0,
        )
        for r in _pricing_run(rows)
    ]


def emission_factors(rows: Sequence[dict[str, str]]) -> list[EmissionFactor]:
    """CO2EII,PUBLISHING rows (the CDEII file) -> one factor (t CO2-e/MWh) per genset."""
    return [
        EmissionFactor(
            _text(r, "DUID"),
            _text(r, "GENSETID"),
            _text(r, "REGIONID"),
            _number(r, "CO2E_EMISSIONS_FACTOR"),
        )
        for r in rows
    ]


def duid_emission_factors(factors: Iterable[EmissionFactor]) -> dict[str, float]:
    """DUID -> t CO2-e/MWh: the plain mean of its gensets' factors.

    AEMO lists a factor per genset and a DUID may have several (e.g. one diesel unit with two
    gensets at 0.708 and 0.90). Where they agree the mean is that factor; where they differ,
    the output share of each genset is not published, so the unweighted mean is used.
    """
    per_duid: dict[str, list[float]] = defaultdict(list)
    for factor in factors:
        per_duid[factor.duid].append(factor.factor_t_per_mwh)
    return {duid: sum(values) / len(values) for duid, values in per_duid.items()}


# --- interconnectors -> regions --------------------------------------------------------------


def _signed_flows(
    flows: Iterable[InterconnectorFlow], metered: bool
) -> list[tuple[str, str, float]]:
    """(from region, to region, MW) per flow, after checking they are one interval's."""
    out: list[tuple[str, str, float]] = []
    seen: set[str] = set()
    interval: datetime | None = None
    for flow in flows:
        if interval is not None and flow.interval_end != interval:
            raise MmsError(f"flows of two intervals ({interval} and {flow.interval_end}) mixed")
        interval = flow.interval_end
        if flow.interconnector_id not in INTERCONNECTORS:
            raise MmsError(f"unknown interconnector {flow.interconnector_id!r}")
        if flow.interconnector_id in seen:
            raise MmsError(f"interconnector {flow.interconnector_id} twice in {interval}")
        seen.add(flow.interconnector_id)
        start, end = INTERCONNECTORS[flow.interconnector_id]
        out.append((start, end, flow.metered_mw if metered else flow.target_mw))
    return out


def net_interchange(
    flows: Iterable[InterconnectorFlow], *, metered: bool = True
) -> dict[str, float]:
    """Region -> MW into it minus MW out of it, over one interval's flows.

    Positive = net import (the opposite sign of AEMO's NETINTERCHANGE). Uses METEREDMWFLOW,
    or MWFLOW (the dispatch target) when ``metered`` is False. Only regions that an
    interconnector in ``flows`` touches appear. Raises MmsError for flows of several
    intervals, an unknown interconnector id or one listed twice.
    """
    net: dict[str, float] = defaultdict(float)
    for start, end, mw in _signed_flows(flows, metered):
        net[start] -= mw
        net[end] += mw
    return dict(net)


def imports_exports(
    flows: Iterable[InterconnectorFlow], *, metered: bool = True
) -> dict[str, tuple[float, float]]:
    """Region -> (imports MW, exports MW), both >= 0, over one interval's flows.

    Each interconnector counts on one side only, by the sign of its flow; imports minus
    exports equals ``net_interchange``. Same inputs and errors as ``net_interchange``.
    """
    imports: dict[str, float] = defaultdict(float)
    exports: dict[str, float] = defaultdict(float)
    for start, end, mw in _signed_flows(flows, metered):
        sender, receiver = (start, end) if mw >= 0 else (end, start)
        exports[sender] += abs(mw)
        imports[receiver] += abs(mw)
        exports[receiver] += 0.0
        imports[sender] += 0.0
    return {region: (imports[region], exports[region]) for region in imports}


def group_by_interval(
    flows: Iterable[InterconnectorFlow],
) -> dict[datetime, list[InterconnectorFlow]]:
    """Interval end (NEM time) -> that interval's flows, in the order given."""
    grouped: dict[datetime, list[InterconnectorFlow]] = defaultdict(list)
    for flow in flows:
        grouped[flow.interval_end].append(flow)
    return dict(grouped)
