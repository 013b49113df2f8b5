"""``nemlive-dashboard``: the top-level dashboard.py, run as ``streamlit run dashboard.py``
would run it.

The page stays a file at the top of the repository, where the README runs it: Streamlit runs a
script, not a module. A wheel ships the top-level files under ``nemlive/_programs/``
(pyproject.toml maps that package to the repository's root), and in a clone they sit next to
``nemlive/``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from nemlive.common.errors import NemLiveError

PACKAGE = Path(__file__).resolve().parents[1]  # nemlive/
DASHBOARD_USAGE = """\
usage: nemlive-dashboard [STREAMLIT_RUN_OPTIONS ...]

Serve the NEM Live page: `streamlit run` on dashboard.py, with these options passed on
(e.g. --server.port 8502 --server.headless true). The page's settings are environment
variables (MQTT_HOST, NEMLIVE_STORE, ...: docs/configuration.md)."""


def find_program(name: str) -> Path:
    """The program file ``name`` (e.g. ``recorder.py``): the wheel's copy, else the clone's.

    NemLiveError (exit 1) when neither exists, which only a broken install gives.
    """
    for candidate in (PACKAGE / "_programs" / name, PACKAGE.parent / name):
        if candidate.is_file():
            return candidate
    raise NemLiveError(
        f"{name} is neither in {PACKAGE / '_programs'} nor in {PACKAGE.parent}: "
        "reinstall NEM Live (pip install . in a clone)"
    )


def run_dashboard(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``nemlive-dashboard``: ``streamlit run dashboard.py ARGS``.

    Streamlit puts the page's folder first on ``sys.path``, so the page's ``import context``
    finds the context.py shipped beside it."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(DASHBOARD_USAGE)
        return 0
    try:
        page = find_program("dashboard.py")
    except NemLiveError as exc:
        print(f"nemlive-dashboard: error: {exc}", file=sys.stderr)
        return exc.exit_code
    from streamlit.web import cli  # imported here: --help needs no Streamlit

    result = cli.main(args=["run", str(page), *args], prog_name="nemlive-dashboard")
    return int(result or 0)
