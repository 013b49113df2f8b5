"""pip install of the project: a wheel with the library and the programs, nothing else, and
``nemlive-*`` commands that start.

The wheel is built from a copy of the sources (a build writes build/ and *.egg-info beside
them), then installed without dependencies into a throwaway venv that borrows this venv's
site-packages for them (a ``.pth`` file): no download but setuptools for the build.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, clean_subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SOURCES = ["nemlive", "pyproject.toml", "README.md", "LICENSE", "requirements*.txt", "*.py"]
# command -> the start of its --help output
COMMANDS = {
    "nemlive-extractor": "usage: extractor.py ",
    "nemlive-publisher": "usage: publisher.py ",
    "nemlive-recorder": "usage: recorder.py ",
    "nemlive-alerts": "usage: alerts.py ",
    "nemlive-dashboard": "usage: nemlive-dashboard ",
}


def _copy_sources(dest: Path) -> None:
    for pattern in SOURCES:
        for path in ROOT.glob(pattern):
            if path.is_dir():
                shutil.copytree(
                    path, dest / path.name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(path, dest / path.name)


def _run(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={k: v for k, v in clean_subprocess_env().items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    dist = tmp_path_factory.mktemp("dist")
    _copy_sources(src)
    proc = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src, cwd=src)
    if proc.returncode and "setuptools" in proc.stderr and "satisf" in proc.stderr:
        pytest.skip("the build needs setuptools from a package index, which is unreachable")
    assert proc.returncode == 0, proc.stderr
    (built,) = dist.glob("nem_live-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    proc = _run(sys.executable, "-m", "venv", "--without-pip", root, cwd=root)
    assert proc.returncode == 0, proc.stderr
    python = root / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root)
    # The dependencies: this venv's, so the test needs no index for them.
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    proc = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel,
        cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root


def test_the_wheel_holds_the_library_and_the_programs_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"nemlive", "nem_live-0.1.0.dist-info"}
    packages = {str(Path(n).parent) for n in names if n.endswith("/__init__.py")}
    in_tree = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "nemlive").rglob("__init__.py")}
    assert packages == in_tree  # pyproject.toml's package list is the tree's
    programs = {Path(n).name for n in names if n.startswith("nemlive/_programs/")}
    assert programs == {p.name for p in ROOT.glob("*.py")}
    assert not [n for n in names if n.startswith(("oesim", "tests", "bench", "tools"))]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_starts_and_shows_its_usage(venv: Path, command: str) -> None:
    proc = _run(venv / "bin" / command, "--help", cwd=venv, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(COMMANDS[command]), proc.stdout[:200]


def test_installed_the_library_reads_data_from_the_working_directory(venv: Path) -> None:
    code = (
        "import nemlive, sys; from nemlive.common import lookups; "
        "from nemlive.cli import find_program; page = find_program('dashboard.py'); "
        "sys.path.insert(0, str(page.parent)); import context; "
        "print(nemlive.__file__, lookups.FACILITIES_CSV, page, context.__file__, sep='\\n')"
    )
    proc = _run(venv / "bin" / "python", "-c", code, cwd=venv)
    assert proc.returncode == 0, proc.stderr
    package, facilities, page, context = proc.stdout.splitlines()
    assert Path(package).is_relative_to(venv)  # the installed copy, not this clone's
    assert facilities == "data/facilities.csv"
    assert Path(page).parent == Path(context).parent == Path(package).parent / "_programs"
