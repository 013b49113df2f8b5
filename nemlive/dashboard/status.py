"""The status panel's texts: the publisher's state, its intervals, the unknown facilities,
and how long ago the last message came (pure).

Every text from the wire is escaped (:func:`nemlive.dashboard.text.escape_markdown`): the
status's fields are written by whoever can publish on the topic.
"""

from __future__ import annotations

from collections.abc import Mapping

from nemlive.common.nemtime import format_nem_epoch
from nemlive.dashboard.freshness import is_simulated
from nemlive.dashboard.livestate import parse_position
from nemlive.dashboard.text import escape_markdown


def describe_age(seconds: float | None) -> str:
    """Seconds -> ``12 s ago`` / ``3 min ago`` / ``1.5 h ago``; None -> ``never``."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def describe_stamp(value: object) -> str:
    """A status's interval time as Markdown: ``2026-11-30 14:35`` (NEM time) for an ISO 8601
    time with its offset, ``none yet`` when absent, else the value escaped: anyone who can
    publish on the topic writes these fields, so they are data, never Markdown."""
    if value is None or value == "":
        return "none yet"
    epoch = parse_position(str(value))
    return escape_markdown(str(value)) if epoch is None else format_nem_epoch(epoch)


# make mutate leaves out the markdown texts (presentation, checked by the app and browser tests).
# pragma: no mutate start
def describe_publisher(status: Mapping[str, object]) -> str:
    """The publisher's status in words, as Markdown with every text from the wire escaped; its
    ``pass_number`` counts from 0, people from 1."""
    state = escape_markdown(str(status.get("state", "unknown")))
    if state == "offline":
        return "**offline**"
    if state == "live":
        market = describe_stamp(status.get("market_to"))
        facilities = describe_stamp(status.get("facilities_to"))
        source = describe_source(status)
        source = f" from {source}" if source else ""
        return f"**live**{source}: prices to {market}, facilities to {facilities} NEM"
    number = int(status.get("pass_number", 0)) + 1  # type: ignore[call-overload]
    if state == "cooldown":
        return f"**cooldown** before pass {number}"
    sent = f"{status.get('row', 0):,}/{status.get('rows', 0):,}"
    return f"**{state}**, pass {number}, {sent} intervals sent"


def describe_source(status: Mapping[str, object] | None) -> str:
    """Where a live stream's data comes from, in words ("" when the status does not say):
    the status's ``source`` is one of the schema's three values, ``simulated`` a bool."""
    if not status:
        return ""
    source = status.get("source")
    if source == "nemweb":
        if status.get("simulated") is True:
            return "the simulator's NEMweb face (facility list from its Open Electricity face)"
        return "AEMO NEMweb (facility list from Open Electricity)"
    if source == "simulator":
        return "the simulator"
    if source == "openelectricity":
        return "Open Electricity"
    return ""


REPLAY_STATES = frozenset({"online", "cooldown", "done"})
NEM = "Australia's National Electricity Market"
# Where a live stream comes from, as the status's ``source`` and ``simulated`` say.
LIVE_SOURCES = {
    ("nemweb", False): "AEMO's NEMweb",
    ("nemweb", True): "the simulator's NEMweb face",
    ("openelectricity", False): "Open Electricity",
    ("openelectricity", True): "the simulator's Open Electricity face",
    ("simulator", False): "the Open Electricity simulator",
    ("simulator", True): "the Open Electricity simulator",
}


def describe_mode(status: Mapping[str, object] | None) -> str:
    """The sidebar's line under the title: what the stream is, as the publisher's status
    says. A replay (``make run``: online, cooldown, done) is "replayed"; a live follow
    (``live``, or the ``offline`` of a live publisher, which still names its source) is
    "followed live from" its source, and a simulated one says so; without a status, or an
    ``offline`` that names no source (a last will), neither. Plain text, no wire text."""
    state = status.get("state") if status else None
    source = status.get("source") if status else None
    simulated = is_simulated(status)
    if state in REPLAY_STATES:
        return f"{NEM}, replayed over MQTT."
    if state != "live" and not (state == "offline" and source):
        return f"{NEM} over MQTT."
    what = "A simulated National Electricity Market" if simulated else NEM
    where = LIVE_SOURCES.get((str(source), simulated))
    return f"{what}, followed live{f' from {where}' if where else ''} over MQTT."


AEMO_CREDIT = "Source: AEMO, © AEMO, used under AEMO's copyright permissions"
OE_CREDIT = (
    "Data sourced from Open Electricity, Superpower Institute, "
    "[CC BY-NC 4.0](https://creativecommons.org/licenses/by-nc/4.0/)"
)


def describe_credits(status: Mapping[str, object] | None) -> str:
    """The page's data credits for the stream the status describes, as Markdown: AEMO's and
    Open Electricity's for real data (NEMweb: AEMO's data, OE's facility list; OE: its data,
    derived from AEMO's); simulated data needs none; "" when the status does not say."""
    if not status or status.get("simulated") is True:
        return "Simulated data: no real data is shown." if status else ""
    source = status.get("source")
    if source == "nemweb":
        return (
            f"Facility and market data from AEMO's NEMweb: {AEMO_CREDIT}. "
            f"Facility list from Open Electricity: {OE_CREDIT}."
        )
    if source == "openelectricity":
        return f"{OE_CREDIT}; market values derived from AEMO data: Source: AEMO."
    if source == "simulator":
        return "Simulated data: no real data is shown."
    return ""


def describe_unknown(
    ids: list[str], overflow: bool, events: int, show: int = 10, *, markdown: bool = True
) -> str:
    """Help for the unknown-facility counter: what it means and the first ``show`` ids, as
    Markdown (ids escaped) or, with ``markdown=False``, plain text (for a hover title).

    ``overflow``: more ids came than are listed. ``events``: their events (counted, not kept).
    """
    text = "Facilities missing from the lookup (data/facilities.csv): counted, not kept or drawn."
    if ids:
        escape = escape_markdown if markdown else str
        listed = ", ".join(escape(i) for i in ids[:show])
        more = len(ids) - min(len(ids), show)
        text += ("  \n" if markdown else "\n") + f"First seen: {listed}"
        text += f" and {more:,} more" if more > 0 else ""
        text += " (more ids than listed)" if overflow else ""
        text += f"; {events:,} events"
    return text


# pragma: no mutate end
