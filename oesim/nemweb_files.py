"""NEMweb's file formats, built from numbers (pure): MMS CSV reports, zips, directory indexes.

An MMS CSV report, as AEMO writes it: a ``C`` header row, per table an ``I`` row naming its
columns and ``D`` rows of data, then ``C,"END OF REPORT",<n>`` where ``n`` counts every
line including the first and the last; CRLF line ends; times quoted ``"YYYY/MM/DD
HH:MM:SS"`` in NEM time (UTC+10), marking the interval's end. The directory indexes are the
plain IIS listings NEMweb serves. Nothing here knows the clock or the dataset.
"""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

NEM_TZ = timezone(timedelta(hours=10))
CRLF = "\r\n"
SITE = "nemweb.com.au"


def nem_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), NEM_TZ)


def nem_time(epoch: float) -> str:
    """``YYYY/MM/DD HH:MM:SS`` in NEM time (the value inside the quotes)."""
    return nem_datetime(epoch).strftime("%Y/%m/%d %H:%M:%S")


def file_stamp(epoch: float) -> str:
    """``YYYYMMDDHHMM`` in NEM time: the interval-end stamp of a 5-minute file's name."""
    return nem_datetime(epoch).strftime("%Y%m%d%H%M")


def parse_file_stamp(text: str) -> int:
    """``YYYYMMDDHHMM`` (NEM time) -> epoch seconds; ValueError when it is not one."""
    return int(datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=NEM_TZ).timestamp())


def number(value: float) -> str:
    """A value as AEMO writes it: at most 5 decimals, no trailing zeros, no ``-0``."""
    text = f"{value:.5f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def dispatch_interval(epoch: int) -> str:
    """DISPATCHINTERVAL ``YYYYMMDDPPP``: the trading day (04:00 to 04:00 NEM time) and the
    interval's number in it, 001 (ending 04:05) to 288 (ending 04:00 the next day)."""
    k = (int(epoch) + 10 * 3600 - 4 * 3600 - 300) // 300
    day = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=k // 288)
    return f"{day:%Y%m%d}{k % 288 + 1:03d}"


@dataclass(frozen=True)
class Table:
    """One MMS table: ``(report, name, version)`` names it, ``rows`` are formatted values."""

    report: str
    name: str
    version: int
    columns: tuple[str, ...]
    rows: Sequence[Sequence[str]]

    def lines(self) -> Iterable[str]:
        prefix = f"{self.report},{self.name},{self.version}"
        yield f"I,{prefix}," + ",".join(self.columns)
        for row in self.rows:
            yield f"D,{prefix}," + ",".join(row)


def header_row(
    report: str, created: float, file_id: int, world: str = "NEMP.WORLD", subject: str = ""
) -> str:
    """The first ``C`` row: who, what, when the file was made (NEM time), its ids."""
    when = nem_datetime(created)
    return ",".join(
        (
            "C",
            world,
            report,
            "AEMO",
            "PUBLIC",
            when.strftime("%Y/%m/%d"),
            when.strftime("%H:%M:%S"),
            f"{file_id:016d}",
            subject,
            f"{file_id - 1:016d}",
        )
    )


def mms_report(header: str, tables: Iterable[Table]) -> bytes:
    """The whole CSV file, CRLF line ends, the END OF REPORT row counting every line."""
    lines = [header]
    for table in tables:
        lines.extend(table.lines())
    lines.append(f'C,"END OF REPORT",{len(lines) + 1}')
    return (CRLF.join(lines) + CRLF).encode("ascii", "replace")


def zip_members(members: Iterable[tuple[str, bytes]], when: float) -> bytes:
    """A zip of ``(name, bytes)`` members, deflated, stamped ``when`` (NEM time): the same
    members always give the same bytes."""
    stamp = nem_datetime(when).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class Entry:
    """One line of a directory index: ``size`` None is a subdirectory."""

    name: str
    modified: int  # epoch seconds
    size: int | None


def _listing_time(epoch: int) -> str:
    when = nem_datetime(epoch)
    hour = when.hour % 12 or 12
    date = f"{when:%A}, {when:%B} {when.day}, {when.year}"
    clock = f"{hour}:{when:%M} {'AM' if when.hour < 12 else 'PM'}"
    return f"{date:>25}  {clock:>8}"


def _listing_line(directory: str, entry: Entry) -> str:
    size = "&lt;dir&gt;" if entry.size is None else str(entry.size)
    href = directory + entry.name + ("/" if entry.size is None else "")
    name = html.escape(entry.name)
    return f'{_listing_time(entry.modified)} {size:>12} <A HREF="{href}">{name}</A><br>'


def parent_of(directory: str) -> str:
    """``/Reports/Current/X/`` -> ``/Reports/Current/``; ``/Reports/`` -> ``/``."""
    trimmed = directory.rstrip("/")
    return trimmed[: trimmed.rfind("/") + 1] or "/"


def index_html(directory: str, entries: Iterable[Entry]) -> bytes:
    """An IIS directory listing of ``directory`` (``/Reports/Current/X/``), as NEMweb's."""
    title = f"{SITE} - {directory}"
    head = (
        f"<html><head><title>{title}</title></head><body><H1>{title}</H1><hr>\r\n\r\n"
        f'<pre><A HREF="{parent_of(directory)}">[To Parent Directory]</A><br><br>'
    )
    lines = [_listing_line(directory, e) for e in entries]
    return (head + "\n".join(["", *lines]) + "</pre><hr></body></html>\r\n").encode()
