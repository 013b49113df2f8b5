"""``make data``: refresh consolidate.csv and data/facilities.csv.

With ``OPENELECTRICITY_API_KEY`` set, it runs extractor.py against the real API for its
default window (the 7 days that end at the last NEM midnight). Otherwise it starts the local
OE simulator with the project's simulated NEM catalogue and extracts a fixed week from it, so
the shipped files are reproducible byte for byte.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIM_WEEK = ("2025-10-01", "2025-10-08")
SIM_KEY = "sim-demo-key-0000"
SIM_SEED = "2025"
# A fixed port keeps the API URL, and so the meta file, the same from run to run.
SIM_PORT = 8765

log = logging.getLogger("makedata")


def pick_port(preferred: int) -> int:
    """``preferred`` if it is free on 127.0.0.1, else 0 (an ephemeral port)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            return 0
    return preferred


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m oesim --dataset nem``; return (process, base URL)."""
    port = pick_port(SIM_PORT)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oesim",
            "--dataset",
            "nem",
            "--port",
            str(port),
            "--seed",
            SIM_SEED,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if "listening on " not in line:
        proc.kill()
        raise RuntimeError(f"the OE simulator did not start: {line or 'no output'}")
    return proc, line.rsplit(" ", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="makedata: %(message)s", stream=sys.stderr)
    extractor = [sys.executable, str(ROOT / "extractor.py")]
    if os.environ.get("OPENELECTRICITY_API_KEY"):
        log.info("OPENELECTRICITY_API_KEY is set: extracting the last week from the real API")
        return subprocess.call(extractor, cwd=ROOT)
    log.info(
        "no OPENELECTRICITY_API_KEY: extracting the simulated week %s..%s from the local OE "
        "simulator (set the key to fetch real data)",
        *SIM_WEEK,
    )
    sim, url = start_simulator()
    try:
        env = dict(os.environ, OPENELECTRICITY_API_URL=url, OPENELECTRICITY_API_KEY=SIM_KEY)
        return subprocess.call(
            [*extractor, "--start", SIM_WEEK[0], "--end", SIM_WEEK[1]], cwd=ROOT, env=env
        )
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()


if __name__ == "__main__":
    sys.exit(main())
