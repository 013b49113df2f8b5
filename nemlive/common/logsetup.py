"""Logging for the entry points (extractor.py, publisher.py): stderr, one format.

Library modules only call ``logging.getLogger(__name__)``; handlers are installed here, by
``main``, and nowhere else.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"


def configure_logging(verbose: bool, *, name: str, quiet: Iterable[str] = ()) -> logging.Handler:
    """Send the root logger to stderr at INFO, or DEBUG when ``verbose``; return the handler.

    The handler is called ``name``, and one of that name installed by an earlier call is
    replaced: tests call ``main`` many times in one process. Other handlers (pytest's) stay.
    ``quiet``: chatty third-party loggers (urllib3, amqtt) held at WARNING unless verbose.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    handler.set_name(name)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == name]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.NOTSET if verbose else logging.WARNING)
    return handler
