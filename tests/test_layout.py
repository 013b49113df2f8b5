"""The layout tells the pipeline: the layout block of docs/development.md = tree, imports
declared, small functions.

These are checks a reviewer would otherwise do by hand on every change.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT

LIBRARY = ROOT / "nemlive"
PROGRAMS = ["extractor.py", "publisher.py", "dashboard.py", "context.py"]
# import name -> distribution name in requirements.txt
DISTRIBUTIONS = {"PIL": "pillow", "paho": "paho-mqtt", "psycopg": "psycopg"}


# A newcomer reads the README in five minutes; everything else has a page under docs/.
README_MAX_LINES = 250


def test_the_readme_is_read_in_five_minutes() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines, at most {README_MAX_LINES}: move a topic to docs/"
    )


def _layout_block() -> list[str]:
    text = (ROOT / "docs" / "development.md").read_text()
    section = text.split("## Project layout", 1)[1]
    return section.split("```text", 1)[1].split("```", 1)[0].splitlines()


def _layout_modules() -> dict[str, set[str]]:
    """package -> module files named under it in docs/development.md's layout block."""
    named: dict[str, set[str]] = {}
    package = None
    for line in _layout_block():
        head = re.match(r"^  (\w+)/", line)
        names = re.match(r"^    ((?:\w+\.py ?)+)", line)
        if head:
            package = head.group(1)
            named[package] = set()
        elif names and package:
            named[package] |= set(names.group(1).split())
        elif not line.startswith(" "):
            package = None
    return named


def test_the_documented_layout_matches_the_tree() -> None:
    named = _layout_modules()
    tree = {
        d.name: {f.name for f in d.glob("*.py") if f.name != "__init__.py"}
        for d in LIBRARY.iterdir()
        if d.is_dir() and (d / "__init__.py").exists()
    }
    assert named == tree
    assert not [f.name for f in LIBRARY.glob("*.py") if f.name != "__init__.py"], (
        "modules belong in a stage's package"
    )


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _product_files() -> list[Path]:
    return sorted(LIBRARY.rglob("*.py")) + [ROOT / p for p in PROGRAMS if (ROOT / p).exists()]


def test_no_library_module_imports_the_programs_context() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in LIBRARY.rglob("*.py") if "context" in _imports(p)
    ]
    assert offenders == []


def _declared(*files: str) -> set[str]:
    return {
        re.split(r"[<>=\[ ;]", line.strip(), maxsplit=1)[0].lower()
        for file in files
        for line in (ROOT / file).read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    }


def _third_party(paths: list[Path]) -> set[str]:
    local = {"nemlive", "context", "extractor", "publisher", "dashboard", "recorder"}
    found = set()
    for path in paths:
        for name in _imports(path) - local:
            if name in sys.stdlib_module_names or name == "__future__":
                continue
            found.add(DISTRIBUTIONS.get(name, name).lower().replace("_", "-"))
    return found


def test_every_imported_package_is_declared() -> None:
    """The programs' imports in requirements.txt (what pip install . installs); the
    developer tools' (nemlive/devtools/) may also use the test and benchmark requirements."""
    devtools = LIBRARY / "devtools"
    product = [p for p in _product_files() if not p.is_relative_to(devtools)]
    assert _third_party(product) - _declared("requirements.txt") == set()
    everything = _declared("requirements.txt", "requirements-test.txt", "requirements-bench.txt")
    assert _third_party(sorted(devtools.rglob("*.py"))) - everything == set()


def test_no_function_is_too_long_or_too_branchy() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import check_functions
    finally:
        sys.path.pop(0)
    files = check_functions.checked_files()
    problems = [p for f in files for p in check_functions.long_functions(f, 60)]
    problems += check_functions.complex_functions(files, 12)
    assert problems == []


@pytest.mark.parametrize("package", ["common", "extract", "publish", "dashboard"])
def test_each_package_names_its_public_api(package: str) -> None:
    import importlib

    module = importlib.import_module(f"nemlive.{package}")
    assert module.__doc__ and module.__all__
    for name in module.__all__:
        assert hasattr(module, name), name
