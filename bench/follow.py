"""The follower's CPU and memory over a simulated day: do they stay flat?

    .venv/bin/python bench/follow.py [--speed 240] [--hours 24] [--keep 1] [--dataset nem]
                                     [--credits 500] [-v]

Starts the OE simulator in live mode (``python -m oesim --live --clock-speed SPEED``) and
``extractor.py --follow --api-clock-speed SPEED`` against it, lets it fill ``--keep`` days,
then samples the extractor's CPU (% of a core over each second) and RSS every second for
``--hours`` simulated hours (``hours × 3600 / speed`` s of wall time: 6 minutes for a day at
240x, one interval and one market poll every 1.25 s; a sweep of the 9 batches of the ``nem``
dataset takes 4.5 s at the client's 2 requests a second, 18 simulated minutes). Prints, for the first and the last quarter of the
samples, the follower's CPU time per poll (sweeps included) and its median RSS, and their
ratios: a follower whose cache, watermarks and logs are bounded keeps both near 1. (CPU per
second is printed too, but it follows how fast the simulator answers, which varies with the
simulated time of day.) The first quarter already holds a full cache (the fill is left out), so any
growth is the follower's own.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support_follow import LiveSim  # noqa: I001

from conftest import PYTHON, clean_subprocess_env


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--speed", type=float, default=240.0, help="simulated seconds per second")
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours to sample")
    p.add_argument("--keep", type=float, default=1.0, help="--keep of the follower (days)")
    p.add_argument("--dataset", default="nem", help="simulator dataset (nem: 259 facilities)")
    p.add_argument("--credits", type=int, default=500, help="credits a simulated day")
    p.add_argument("-v", "--verbose", action="store_true", help="print the follower's log")
    return p.parse_args()


def quarter_medians(values: list[float]) -> tuple[float, float]:
    q = max(len(values) // 4, 1)
    return statistics.median(values[:q]), statistics.median(values[-q:])


@dataclass
class Samples:
    """Per second: CPU % of one core, RSS (MiB), and the running totals of CPU s and polls."""

    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)

    def per_poll_ms(self, lo: int, hi: int) -> float:
        """CPU ms per poll between samples ``lo`` and ``hi``."""
        polls = self.polls[hi] - self.polls[lo]
        return 1000 * (self.cpu_s[hi] - self.cpu_s[lo]) / polls if polls else float("nan")


def sample(proc: psutil.Process, log: Path, seconds: float) -> Samples:
    """One sample a second for ``seconds``: the follower's CPU, RSS and polls so far."""
    out = Samples()
    last_t, last_cpu = time.monotonic(), sum(proc.cpu_times()[:2])
    deadline = last_t + seconds
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now, used = time.monotonic(), sum(proc.cpu_times()[:2])
        out.cpu.append(100.0 * (used - last_cpu) / (now - last_t))
        out.rss.append(proc.memory_info().rss / 2**20)
        out.cpu_s.append(used)
        out.polls.append(log.read_text().count("poll: "))
        last_t, last_cpu = now, used
    return out


def main() -> int:
    args = parse_args()
    extra = ("--credits", str(args.credits), "--seed", "2025")
    sim = LiveSim(speed=args.speed, dataset=args.dataset, extra=extra).start()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        argv = [
            PYTHON,
            str(ROOT / "extractor.py"),
            "--follow",
            "--source",
            "oe",
            "--keep",
            f"{args.keep:g}",
            "--poll-every",
            f"{300 / args.speed:g}",
            "--api-clock-speed",
            f"{args.speed:g}",
            "--out",
            str(out / "consolidate.csv"),
            "--facilities-out",
            str(out / "facilities.csv"),
        ]
        log = (out / "extractor.log").open("w")  # kept for the summary
        ext = subprocess.Popen(argv, cwd=ROOT, env=clean_subprocess_env(**sim.env()), stderr=log)
        try:
            while not (out / "consolidate.meta.json").exists():
                if ext.poll() is not None:
                    print((out / "extractor.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.2)
            wall = args.hours * 3600 / args.speed
            print(
                f"follower filled {args.keep:g} day(s); sampling {args.hours:g} simulated hours "
                f"at {args.speed:g}x ({wall:.0f} s)",
                flush=True,
            )
            got = sample(psutil.Process(ext.pid), out / "extractor.log", wall)
        finally:
            ext.terminate()
            ext.wait(timeout=30)
            sim.stop()
            log.close()
        text = (out / "extractor.log").read_text()
        if args.verbose:
            print(text)
        polls, sweeps = text.count("poll: "), text.count(" batches, +")
        refused = text.count("refused")
    report(got, polls, sweeps, refused)
    return 0


def report(got: Samples, polls: int, sweeps: int, refused: int) -> None:
    n = len(got.cpu)
    q = max(n // 4, 1)
    cpu_a, cpu_b = quarter_medians(got.cpu)
    rss_a, rss_b = quarter_medians(got.rss)
    per_a, per_b = got.per_poll_ms(0, q - 1), got.per_poll_ms(n - q, n - 1)
    print(f"{n} samples, {polls} polls, {sweeps} sweeps, {refused} refusals")
    print(
        f"CPU per poll (ms, sweeps included): first quarter {per_a:.0f}, last {per_b:.0f}, "
        f"ratio {per_b / per_a:.2f}"
    )
    print(
        f"CPU (% of a core, set by how fast the simulator answers): first quarter median "
        f"{cpu_a:.1f}, last {cpu_b:.1f}"
    )
    print(
        f"RSS (MiB): first quarter median {rss_a:.1f}, last {rss_b:.1f}, ratio {rss_b / rss_a:.3f}; "
        f"max {max(got.rss):.1f}"
    )


if __name__ == "__main__":
    sys.exit(main())
