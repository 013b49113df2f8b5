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

from tests.conftest import ROOT

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


# The page program keeps only its layout; its parts live in nemlive/dashboard/.
DASHBOARD_MAX_LINES = 250


def test_the_page_program_is_only_its_layout() -> None:
    lines = (ROOT / "dashboard.py").read_text().splitlines()
    assert len(lines) <= DASHBOARD_MAX_LINES, (
        f"dashboard.py has {len(lines)} lines, at most {DASHBOARD_MAX_LINES}: "
        "move its parts into nemlive/dashboard/"
    )


# The other three programs are shims over nemlive/cli/: flags, files and exit codes live there.
SHIM_MAX_LINES = 30


@pytest.mark.parametrize("program", ["extractor.py", "publisher.py", "recorder.py", "alerts.py"])
def test_the_command_line_programs_are_thin_shims(program: str) -> None:
    text = (ROOT / program).read_text()
    assert len(text.splitlines()) <= SHIM_MAX_LINES, f"{program}: move its code to nemlive/cli/"
    assert f"from nemlive.cli.{program.removesuffix('.py')} import" in text


def _imports_streamlit(path: Path) -> bool:
    return any(name.startswith("streamlit") for name in _imports(path))


def test_only_the_page_modules_import_streamlit() -> None:
    """Streamlit is the page's: in the library only nemlive/dashboard/page_*.py import it (or
    a component such as streamlit_autorefresh), and the launcher that starts its server
    (nemlive/cli/launch.py); every other module runs without a page."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in LIBRARY.rglob("*.py")
        if _imports_streamlit(p)
        and not p.match("nemlive/dashboard/page_*.py")
        and p != LIBRARY / "cli" / "launch.py"
    ]
    assert offenders == []
    assert [p.name for p in (LIBRARY / "dashboard").glob("page_*.py") if _imports_streamlit(p)]


def test_developer_tools_of_the_tests_stay_out_of_the_library() -> None:
    """The headless Streamlit viewer is test and benchmark tooling (tests/support_stclient.py)."""
    assert not (LIBRARY / "devtools" / "stclient.py").exists()
    assert (ROOT / "tests" / "support_stclient.py").exists()


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
    local = {"nemlive", "context", "extractor", "publisher", "dashboard", "recorder", "alerts"}
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


@pytest.mark.integration
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


# --- one way to do each thing -----------------------------------------------------------------

STAGES = ("extract", "publish", "record", "dashboard", "alert")


def _calls_paho_client(path: Path) -> bool:
    """Whether ``path`` calls paho's ``Client(...)``: through the module (``mqtt.Client``,
    whatever the alias of ``paho.mqtt.client``) or imported by name."""
    tree = ast.parse(path.read_text(), str(path))
    modules, names = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name.startswith("paho")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("paho"):
            names |= {a.asname or a.name for a in node.names if a.name == "Client"}
            modules |= {a.asname or a.name for a in node.names if a.name == "client"}
    for node in ast.walk(tree):
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Name) and func.id in names:
            return True
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "Client"
            and isinstance(func.value, ast.Name)
            and func.value.id in modules
        ):
            return True
    return False


def test_one_module_builds_mqtt_clients() -> None:
    builders = [str(p.relative_to(ROOT)) for p in LIBRARY.rglob("*.py") if _calls_paho_client(p)]
    assert builders == ["nemlive/common/mqttclient.py"], (
        "build paho clients with nemlive.common.mqttclient.build_client"
    )


def _stage_imports(path: Path) -> set[str]:
    """The ``nemlive.<stage>`` packages ``path`` imports (absolute, ``from nemlive import``)."""
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "nemlive" and len(parts) > 1 and parts[1] in STAGES:
                found.add(parts[1])
    return found


def test_stages_share_code_only_through_common_and_store() -> None:
    crossings = {
        f"{path.relative_to(ROOT)} imports nemlive.{other}"
        for stage in STAGES
        for path in (LIBRARY / stage).rglob("*.py")
        for other in _stage_imports(path) - {stage}
    }
    assert crossings == set(), "move what two stages share into nemlive/common"


# A delay that grows geometrically: min(delay * 2, cap), delay *= 2, 2 ** attempt, x ** retry.
# Written anywhere but the retry module, it is a second backoff loop.
_BACKOFF_STEP = re.compile(
    r"min\([^)]*\*\s*2(?![\d.])|\*=\s*2(?![\d.])|\b2\s*\*\*\s*[A-Za-z_]|\*\*\s*(attempt|retry|tries)\b"
)


def test_backoff_is_computed_only_by_the_retry_module() -> None:
    steps = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _product_files()
        if path != LIBRARY / "common" / "retry.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _BACKOFF_STEP.search(line)
    ]
    assert steps == [], "retry with nemlive.common.retry (Backoff, call_with_retries)"
