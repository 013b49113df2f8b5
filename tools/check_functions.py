"""Fail when a function of the programs or the library is too long or too branchy.

    python tools/check_functions.py [--max-lines 60] [--max-complexity 12]

Checks every function and method in ``nemlive/`` and the top-level programs: at most
``--max-lines`` lines from ``def`` to its last line (docstring included), and a McCabe
complexity of at most ``--max-complexity`` (ruff's C901). Prints one line per offender.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = (
    "extractor.py",
    "publisher.py",
    "dashboard.py",
    "recorder.py",
    "alerts.py",
    "context.py",
)


def checked_files() -> list[Path]:
    """The library's modules and the programs that exist."""
    return sorted(ROOT.glob("nemlive/**/*.py")) + [
        ROOT / p for p in PROGRAMS if (ROOT / p).exists()
    ]


def long_functions(path: Path, max_lines: int) -> list[str]:
    """``path:line name (N lines)`` for each function longer than ``max_lines``."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines = (node.end_lineno or node.lineno) - first + 1
            if lines > max_lines:
                rel = path.relative_to(ROOT)
                found.append(f"{rel}:{node.lineno} {node.name} ({lines} lines > {max_lines})")
    return found


def complex_functions(files: list[Path], max_complexity: int) -> list[str]:
    """ruff's C901 report for ``files``, one line per function."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "C901",
            "--config",
            f"lint.mccabe.max-complexity = {max_complexity}",
            "--output-format",
            "concise",
            *map(str, files),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return [ln for ln in run.stdout.splitlines() if "C901" in ln]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lines", type=int, default=60)
    parser.add_argument("--max-complexity", type=int, default=12)
    args = parser.parse_args(argv)
    files = checked_files()
    problems = [p for f in files for p in long_functions(f, args.max_lines)]
    problems += complex_functions(files, args.max_complexity)
    for line in problems:
        print(line)
    print(f"{len(files)} files, {len(problems)} functions over the limits")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
