"""``make data``: refresh consolidate.csv and data/facilities.csv.

With ``OPENELECTRICITY_API_KEY`` set, it runs extractor.py against the real API for its
default window (the 7 days that end at the last NEM midnight). Otherwise it starts the local
OE simulator with the project's simulated NEM catalogue and extracts a fixed week from it, so
the shipped files are reproducible byte for byte.
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
from pathlib import Path

from nemlive.publish.broker import is_port_free

ROOT = Path(__file__).resolve().parents[2]  # the repository
SIM_WEEK = ("2025-10-01", "2025-10-08")
SIM_KEY = "sim-demo-key-0000"
SIM_SEED = "2025"
# A fixed port keeps the API URL, and so the meta file, the same from run to run.
SIM_PORT = 8765
STARTUP_TIMEOUT_S = 60.0  # loading the simulated NEM catalogue takes a few seconds

log = logging.getLogger("makedata")


def start_simulator(timeout: float = STARTUP_TIMEOUT_S) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m oesim --dataset nem``; return (process, base URL).

    Uses :data:`SIM_PORT` when it is free, else an ephemeral port (the meta file then records
    another URL). Raise RuntimeError, with the process killed, if the simulator does not
    print its ``listening on`` line within ``timeout`` seconds.
    """
    port = SIM_PORT if is_port_free("127.0.0.1", SIM_PORT) else 0
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
    # The simulator prints one flushed line once it listens; don't wait forever for it.
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().strip() if ready else ""
    if "listening on " not in line:
        proc.kill()
        proc.wait(timeout=10)
        raise RuntimeError(
            f"the OE simulator did not start within {timeout:g} s: {line or 'no output'}"
        )
    return proc, line.rsplit(" ", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    """``make data``: exit 0 when the files were rebuilt, else the extractor's exit status
    (2 usage/config/input, 1 otherwise), or 1 when the simulator would not start."""
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
    try:
        sim, url = start_simulator()
    except (RuntimeError, OSError) as exc:
        log.error("%s", exc)
        return 1
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
