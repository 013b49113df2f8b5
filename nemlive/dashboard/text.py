"""Text from the wire and the lookup, made safe for the page's Markdown (pure).

Facility names, ids and the publisher's status are data: anyone who can publish on the topic,
or edit the lookup, writes them. :func:`escape_markdown` makes Streamlit show them literally;
:func:`build_facility_markdown` is the facility detail's text, every lookup string escaped.
"""

from __future__ import annotations

import re

from nemlive.common.lookups import FUEL_LABELS, REGION_NAMES, Facility, capacity_factor
from nemlive.common.nemtime import format_nem_epoch
from nemlive.dashboard.livestate import Point

# Backslash-escaping these makes CommonMark, Streamlit's colour/directive syntax (``:red[..]``),
# LaTeX (``$..$``) and raw HTML show literally; ``&`` stops entities such as ``&amp;``.
MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()<>#+-.!|&$:~=\"'")
# GitHub's autolinks are found in the text once escapes are resolved, so a bare
# ``http://host``, ``www.host`` or ``name@host`` still becomes a link: a word joiner (U+2060,
# shown as nothing) after ``:`` before ``//``, between ``www`` and ``.`` and after ``@``
# leaves nothing for them to find.
WORD_JOINER = "\u2060"
_AUTOLINK_SPOTS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


MINUS = "\u2212"  # the typographic minus: "−$7.55", as prices are written


def format_price(price: float, *, digits: int = 2, per_mwh: bool = True) -> str:
    """``$34.12/MWh``, ``−$7.55/MWh``: the sign before the currency, thousands grouped, a
    true minus (U+2212); ``digits`` after the point, ``per_mwh=False`` without the unit
    (``−$8``). The page's one way of writing a price: figures, tooltips, legend, changes."""
    sign = MINUS if price < 0 and round(price, digits) != 0 else ""
    return f"{sign}${abs(price):,.{digits}f}" + ("/MWh" if per_mwh else "")


def escape_markdown(text: str) -> str:
    """``text`` with every markdown-active character backslash-escaped, so Streamlit shows it
    literally (names are data: ``**``, ``<b>``, ``&amp;``, ``$x$`` or ``:red[x]`` stay as typed),
    and a word joiner where an autolink would start (``WORD_JOINER``): a URL is no link.

    Newlines become spaces: a name is one line.
    """
    text = _AUTOLINK_SPOTS.sub(WORD_JOINER, text)
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else " " if c in "\r\n" else c for c in text)


# make mutate leaves out the markdown texts (presentation, checked by the app and browser tests).
# pragma: no mutate start
def build_facility_markdown(fac: Facility, latest: Point | None) -> str:
    """A facility's metadata and latest value (NEM time) as markdown, every lookup string escaped."""
    esc = escape_markdown
    fuels = ", ".join(esc(FUEL_LABELS.get(g, g)) for g in fac.fuel_groups) or "unknown"  # type: ignore[call-overload]
    techs = ", ".join(esc(t) for t in fac.fuel_techs)
    capacity = "unknown" if fac.capacity_mw is None else f"{fac.capacity_mw:,.0f} MW"
    lines = [
        f"**{esc(fac.name)}** · {esc(fac.facility_id)}",
        esc(REGION_NAMES.get(fac.region_id, fac.region_id)),
        f"Fuel: {fuels}" + (f" ({techs})" if techs else ""),
        f"Capacity: {capacity}",
        f"Location: {fac.lat:.4f}, {fac.lon:.4f}",
    ]
    if latest is not None:
        ts, mw, t = latest
        mw_text = "–" if mw is None else f"{mw:,.1f}"
        t_text = "–" if t is None else f"{t:,.2f}"
        when = format_nem_epoch(ts)
        lines.append(f"Latest ({when} NEM): **{mw_text} MW**, **{t_text} t CO₂-e**")
        cf = capacity_factor(fac, mw)
        if cf is not None:
            lines.append(f"Capacity factor: **{cf:.0%}** (latest output ÷ registered capacity)")
    return "  \n".join(lines)


# pragma: no mutate end
