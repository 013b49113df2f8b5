"""One part of the page that fails shows a small error box; the rest of the page still draws."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import streamlit as st

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def guarded(part: str) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Draw one part of the page; if it fails, show one small error box in its place.

    No value that validation lets through is known to break a builder, but the page is shared:
    one part that fails must not take the rest of the page down for every viewer. The
    traceback goes to the server's log, never to the page; the part then returns None.
    Streamlit's own stop and rerun signals are BaseExceptions and pass through.
    """

    def wrap(render: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(render)
        def run(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return render(*args, **kwargs)
            except Exception:
                log.exception("the %s failed to draw", part)
                st.error(f"The {part} could not be drawn; the rest of the page works.", icon="⚠️")
                return None

        return run

    return wrap
