"""The page's Alerts part, pure: the tables of firing and resolved alerts, the toast text,
which firing alerts a browser session has not been told of yet, and History's table of the
alerts the recorder stored in a range.

The alerts come from the bus (``LiveState``, docs/alerts.md); the dashboard never evaluates
a rule. Rule and subject are wire text: the toast escapes them (``escape_markdown``); the
tables are data frames, shown as typed.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence

import pandas as pd

from nemlive.common.nemtime import format_nem_epoch
from nemlive.dashboard.history import StoredAlerts
from nemlive.dashboard.text import escape_markdown, format_price
from nemlive.store.rows import AlertRecord

TABLE_COLUMNS = ("rule", "subject", "state", "since", "at", "value", "threshold")
MAX_SEEN = 2_000  # firing alerts a session remembers having toasted; the oldest forgotten
MAX_TOASTS = 5  # toasts per run; the rest are summed up in one more

SeenKey = tuple[str, str, int]  # rule, subject, since: one firing


def build_alert_table(alerts: Sequence[AlertRecord]) -> pd.DataFrame:
    """One row per alert, in the given order; ``since`` and ``at`` as NEM time text."""
    return pd.DataFrame(
        [
            (
                a.rule,
                a.subject,
                a.state,
                format_nem_epoch(a.since) + " NEM",
                format_nem_epoch(a.at) + " NEM",
                a.value,
                a.threshold,
            )
            for a in alerts
        ],
        columns=list(TABLE_COLUMNS),
    )


def history_alerts_caption(stored: StoredAlerts | None) -> str:
    """The line above History's alert table: how many the range holds, and how many older
    ones are left out (numbers only: no wire text)."""
    if stored is None:
        return "The store's alerts could not be read."
    if not stored.alerts:
        return "No alert was recorded in this range."
    shown = len(stored.alerts)
    if stored.left_out:
        total = shown + stored.left_out
        return (
            f"The newest {shown:,} of {total:,} alert state changes recorded in this range "
            f"({stored.left_out:,} older left out), newest first."
        )
    noun = "change" if shown == 1 else "changes"
    return f"{shown:,} alert state {noun} recorded in this range, newest first."


def take_new_firing(
    firing: Iterable[AlertRecord], seen: MutableMapping[SeenKey, None], max_seen: int = MAX_SEEN
) -> list[AlertRecord]:
    """The alerts of ``firing`` not in ``seen`` (a session's memory), oldest first, now added
    to it; ``seen`` keeps at most ``max_seen`` keys, the oldest forgotten first."""
    new = [a for a in firing if (a.rule, a.subject, a.since) not in seen]
    new.sort(key=lambda a: (a.at, a.received_at))
    for alert in new:
        seen[(alert.rule, alert.subject, alert.since)] = None
    while len(seen) > max_seen:
        del seen[next(iter(seen))]
    return new


PRICE_KINDS = frozenset({"price_above", "price_below"})  # rules whose values are $/MWh


def format_alert_value(kind: str, value: float | None) -> str:
    """An alert's value or threshold as plain text: a price rule's as a price
    (``−$7.55/MWh``), any other's as a number (``15,000.00``); ``no value`` for None."""
    if value is None:
        return "no value"
    return format_price(value) if kind in PRICE_KINDS else f"{value:,.2f}"


def toast_text(alert: AlertRecord) -> str:
    """``sa-spike: SA1 fired at 2025-10-15 10:05 NEM (value $15,000.00/MWh, threshold
    $300.00/MWh)``, rule, subject and values escaped (a ``$`` would start LaTeX)."""
    value = escape_markdown(format_alert_value(alert.kind, alert.value))
    threshold = escape_markdown(format_alert_value(alert.kind, alert.threshold))
    return (
        f"**{escape_markdown(alert.rule)}**: {escape_markdown(alert.subject)} fired at "
        f"{format_nem_epoch(alert.at)} NEM (value {value}, threshold {threshold})"
    )


def toast_texts(new: Sequence[AlertRecord], max_toasts: int = MAX_TOASTS) -> list[str]:
    """The toasts for ``new`` firing alerts: one each up to ``max_toasts``, then one that
    counts the rest (a flood makes no wall of toasts)."""
    texts = [toast_text(a) for a in new[:max_toasts]]
    if len(new) > max_toasts:
        texts.append(f"and {len(new) - max_toasts:,} more alerts fired: see Alerts")
    return texts
