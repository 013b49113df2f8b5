"""Print the mutation score of the core modules after ``mutmut run`` (run by make mutate).

    python tools/mutation_score.py [--target 90]

Reads ``mutmut results --all true`` and ``docs/mutation-equivalent.txt`` (one mutant name a
line, then ``#`` and why it cannot change what a user sees). Prints killed/total per module
and overall, where total leaves out the listed equivalent mutants, and names every survivor
that is not listed. Exits 1 when the overall score is under ``--target`` percent.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "docs" / "mutation-equivalent.txt"
MUTMUT = Path(sys.executable).parent / "mutmut"
# mutmut counts a mutant whose tests ran past the time limit as caught, and so do we.
CAUGHT = {"killed", "timeout", "caught by type check"}


def read_results() -> dict[str, str]:
    """Mutant name -> mutmut's status (killed, survived, no tests, timeout, ...)."""
    out = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    results = {}
    for line in out.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and "__mutmut_" in name:
            results[name] = status.strip()
    return results


def read_equivalent(path: Path = EQUIVALENT) -> set[str]:
    """The listed mutant names (text before ``#``), blank lines and comments skipped."""
    if not path.exists():
        return set()
    names = (line.partition("#")[0].strip() for line in path.read_text().splitlines())
    return {name for name in names if name}


def module_of(mutant: str) -> str:
    """``nemlive.common.events.x_f__mutmut_3`` -> ``nemlive/common/events.py``."""
    parts = mutant.split(".")
    index = next(i for i, p in enumerate(parts) if p.startswith("x"))
    return "/".join(parts[:index]) + ".py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=90.0, help="percent killed to pass")
    args = parser.parse_args(argv)
    results = read_results()
    equivalent = read_equivalent()
    killed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    unlisted = []
    for name, status in sorted(results.items()):
        if name in equivalent:
            continue
        module = module_of(name)
        total[module] += 1
        if status in CAUGHT:
            killed[module] += 1
        else:
            unlisted.append(f"  {name}: {status}")
    for module in sorted(total):
        share = 100 * killed[module] / total[module]
        print(f"{module:34} {killed[module]:5} / {total[module]:5} killed  {share:5.1f}%")
    overall = 100 * sum(killed.values()) / max(1, sum(total.values()))
    print(f"{'all':34} {sum(killed.values()):5} / {sum(total.values()):5} killed  {overall:5.1f}%")
    print(f"{len(equivalent & set(results))} equivalent mutants left out ({EQUIVALENT.name})")
    if unlisted:
        print(f"{len(unlisted)} not killed and not listed as equivalent (mutmut show NAME):")
        print("\n".join(unlisted))
    if overall < args.target:
        print(f"mutation score {overall:.1f}% is under the target of {args.target:g}%")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
