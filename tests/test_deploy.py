"""deploy/: the systemd units and their environment files say only what works, and no secret
goes on a command line.

Every unit's ExecStart runs a program of this repository with flags its own parser accepts
(Streamlit's options for the dashboard); every EnvironmentFile it names is shipped; secrets
(passwords, the API key, store URLs) are only in those files, never in ExecStart or
Environment= (``systemctl show`` and ``ps`` show both to every local user); and
``systemd-analyze verify`` finds nothing to say about any unit.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from nemlive.devtools.replicas import RESTART_AFTER_S
from tests.conftest import PYTHON, ROOT
from tests.test_readme import PARSERS

DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
CLONE = "/opt/nemlive"  # where the units expect the clone (docs/deploy.md)
VENV_PYTHON = f"{CLONE}/.venv/bin/python"
INSTANCE = {"nemlive-recorder@.service": "1", "nemlive-dashboard@.service": "8501"}
SECRET_NAMES = re.compile(r"PASSWORD|API_KEY|SECRET|TOKEN|NEMLIVE_STORE")
URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]+:[^@\s]+@")


def parse_unit(path: Path) -> dict[str, list[str]]:
    """``Section.Key`` -> every value it is given (systemd allows a key more than once)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


def exec_start(path: Path) -> list[str]:
    """The unit's command line, with the template's ``%i`` as an instance would have it."""
    (command,) = parse_unit(path)["Service.ExecStart"]
    return shlex.split(command.replace("%i", INSTANCE.get(path.name, "x")))


def test_there_is_a_unit_per_program() -> None:
    assert {u.name for u in UNITS} == {
        "nemlive-extractor.service",
        "nemlive-publisher.service",
        "nemlive-recorder@.service",
        "nemlive-alerts.service",
        "nemlive-dashboard@.service",
    }


def _program(words: list[str]) -> tuple[str, list[str]]:
    """(program name, its arguments) of ``python X.py ARGS`` or ``python -m streamlit run``."""
    assert words[0] == VENV_PYTHON, words
    if words[1:3] == ["-m", "streamlit"]:
        assert words[3] == "run" and words[4] == f"{CLONE}/dashboard.py", words
        return "dashboard", words[5:]
    assert words[1].startswith(f"{CLONE}/") and words[1].endswith(".py"), words
    return Path(words[1]).stem, words[2:]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_unit_runs_a_program_of_the_clone_with_flags_it_accepts(unit: Path) -> None:
    program, args = _program(exec_start(unit))
    assert (ROOT / f"{program}.py").is_file(), program
    if program == "dashboard":
        from streamlit import config

        options = config.get_config_options()
        flags = [a for a in args if a.startswith("--")]
        assert flags and all(f[2:] in options for f in flags), flags
        return
    # The program's own parser takes the whole command line (flags and their values).
    PARSERS[program]().parse_args(args)


def test_a_made_up_flag_would_be_refused() -> None:
    with pytest.raises(SystemExit):
        PARSERS["recorder"]().parse_args(["--no-such-flag"])


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_no_unit_puts_a_secret_on_its_command_line_or_in_environment(unit: Path) -> None:
    fields = parse_unit(unit)
    command = " ".join(exec_start(unit))
    assert not re.search(r"--(password|username)\b", command), command
    assert not URL_WITH_PASSWORD.search(command) and "postgresql://" not in command, command
    for assignment in fields.get("Service.Environment", []):
        assert not SECRET_NAMES.search(assignment), assignment


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_environment_file_named_is_shipped(unit: Path) -> None:
    files = parse_unit(unit)["Service.EnvironmentFile"]
    assert files[0] == "/etc/nemlive/nemlive.env", files  # the shared part first
    for name in files:
        assert name.startswith("/etc/nemlive/"), name
        assert (DEPLOY / Path(name).name).is_file(), name


def test_the_secrets_are_in_the_environment_files_with_placeholders() -> None:
    values: dict[str, str] = {}
    for path in DEPLOY.glob("*.env"):
        for line in path.read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.partition("=")
                values[name] = value
    for name in ("OPENELECTRICITY_API_KEY", "MQTT_PASSWORD"):
        assert values[name] == "change-me", name
    assert ":change-me@" in values["NEMLIVE_STORE"]


def test_each_template_instance_is_its_own_session_or_port() -> None:
    recorder = exec_start(DEPLOY / "nemlive-recorder@.service")
    assert recorder[recorder.index("--client-id") + 1] == "nemlive-recorder-1"
    dashboard = exec_start(DEPLOY / "nemlive-dashboard@.service")
    assert dashboard[dashboard.index("--server.port") + 1] == "8501"


def test_a_replica_is_started_again_as_make_scale_does() -> None:
    fields = parse_unit(DEPLOY / "nemlive-dashboard@.service")
    assert fields["Service.Restart"] == ["always"]
    assert fields["Service.RestartSec"] == [f"{RESTART_AFTER_S:g}"]


@pytest.mark.integration
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_finds_nothing_to_say_about_the_unit(unit: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # The unit as it would run from this clone: systemd checks that the program exists.
    text = unit.read_text().replace(VENV_PYTHON, PYTHON).replace(f"{CLONE}/", f"{ROOT}/")
    name = unit.name.replace("@.", f"@{INSTANCE.get(unit.name, 'x')}.")
    (tmp_path / name).write_text(text)
    check = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0 and check.stdout + check.stderr == "", check.stderr
