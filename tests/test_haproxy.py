"""HAProxy's configuration for the dashboard replicas (nemlive/devtools/haproxy.py).

The shipped deploy/haproxy.cfg is the generator's output, byte for byte; both it and a
loopback configuration pass ``haproxy -c``; the parts that keep a Streamlit tab working
through a load balancer are there: the sticky cookie, the WebSocket's tunnel timeout and the
health check on Streamlit's own endpoint.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nemlive.devtools import haproxy
from nemlive.devtools.haproxy import (
    DEPLOY_HEADER,
    DEPLOY_SETTINGS,
    HaproxySettings,
    Server,
    build_haproxy_config,
    parse_server_status,
    replica_servers,
)
from tests.conftest import ROOT
from tests.support_scale import haproxy_binary

SHIPPED = ROOT / "deploy" / "haproxy.cfg"
LOOPBACK = HaproxySettings("127.0.0.1", 8500, replica_servers("127.0.0.1", [8501, 8502, 8503]))


def _directives(text: str) -> list[str]:
    """The config's lines without comments, blank lines or indentation."""
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]


def _section(text: str, header: str) -> list[str]:
    """The directives of one section (``backend dashboards``...)."""
    lines = _directives(text)
    start = lines.index(header) + 1
    heads = ("global", "defaults", "frontend ", "backend ", "listen ")
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(heads)), len(lines))
    return lines[start:end]


def test_the_shipped_config_is_the_generators_output() -> None:
    # Regenerate with: python -m nemlive.devtools.haproxy --deploy > deploy/haproxy.cfg
    assert SHIPPED.read_text() == build_haproxy_config(DEPLOY_SETTINGS, DEPLOY_HEADER)


def test_the_cli_prints_the_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert haproxy.main(["--deploy"]) == 0
    assert capsys.readouterr().out == SHIPPED.read_text()


@pytest.mark.parametrize(
    ("section", "directive"),
    [
        # Sticky: HAProxy names the replica in a cookie, and a tab keeps going there.
        ("backend dashboards", "cookie SERVERID insert indirect nocache httponly"),
        # Health: Streamlit's own endpoint, 200 once it serves.
        ("backend dashboards", "option httpchk"),
        (
            "backend dashboards",
            "http-check send meth GET uri /_stcore/health ver HTTP/1.1 hdr Host localhost",
        ),
        ("backend dashboards", "http-check expect status 200"),
        # A replica that is gone: its tabs go to another one.
        ("defaults", "option redispatch 1"),
        ("defaults", "mode http"),
        # WebSockets: an upgraded connection is a tunnel that lives as long as its tab.
        ("defaults", "timeout tunnel 1h"),
        ("defaults", "timeout connect 2s"),
    ],
    ids=lambda v: v.split()[0] if " " in v else v,
)
def test_the_config_keeps_a_streamlit_tab_on_its_replica(section: str, directive: str) -> None:
    for text in (build_haproxy_config(LOOPBACK), SHIPPED.read_text()):
        assert directive in _section(text, section), text


def test_every_replica_is_a_checked_server_whose_cookie_is_its_name() -> None:
    backend = _section(build_haproxy_config(LOOPBACK), "backend dashboards")
    servers = [ln for ln in backend if ln.startswith("server ")]
    assert servers == [
        "server dash1 127.0.0.1:8501 cookie dash1",
        "server dash2 127.0.0.1:8502 cookie dash2",
        "server dash3 127.0.0.1:8503 cookie dash3",
    ]
    default = next(ln for ln in backend if ln.startswith("default-server "))
    assert " check " in f"{default} " and "fall 2" in default and "rise 2" in default


def test_the_local_demo_listens_on_loopback_only_and_the_deploy_on_every_address() -> None:
    assert _section(build_haproxy_config(LOOPBACK), "frontend nemlive")[0] == (
        "bind 127.0.0.1:8500"
    )
    assert _section(SHIPPED.read_text(), "frontend nemlive")[0] == "bind 0.0.0.0:80"
    # Deployed, HAProxy drops root after binding and logs to syslog; the demo does neither.
    deploy_global = _section(SHIPPED.read_text(), "global")
    assert "user haproxy" in deploy_global and "log /dev/log local0 notice" in deploy_global
    assert not any(
        ln.startswith(("user", "log")) for ln in _section(build_haproxy_config(LOOPBACK), "global")
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--server", "dash1"], "use NAME=HOST:PORT"),
        (["--server", "dash1=host:http"], "use NAME=HOST:PORT"),
        (["--bind", "80", "--server", "a=h:1"], "use HOST:PORT"),
    ],
    ids=["no-address", "port-not-a-number", "bind-without-host"],
)
def test_a_bad_address_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        haproxy.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_replica_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert haproxy.main(["--bind", "127.0.0.1:8500"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: name at least one replica: --server dash1=HOST:PORT"
    )


def test_the_cli_builds_a_config_for_other_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--bind", "0.0.0.0:8080", "--server", "a=10.1.0.5:8501", "--server", "b=web:9000"]
    assert haproxy.main([*argv, "--log", "/dev/log"]) == 0
    text = capsys.readouterr().out
    settings = HaproxySettings(
        "0.0.0.0", 8080, (Server("a", "10.1.0.5", 8501), Server("b", "web", 9000)), "/dev/log"
    )
    assert text == build_haproxy_config(settings)


SHOW_STAT = (
    "# pxname,svname,qcur,qmax,scur,status,weight\n"
    "nemlive,FRONTEND,,,0,OPEN,\n"
    "dashboards,dash1,0,0,1,UP,1\n"
    "dashboards,dash2,0,0,0,DOWN 1/2,1\n"
    "dashboards,dash3,0,0,0,DRAIN,1\n"
    "dashboards,BACKEND,0,0,1,UP,2\n"
    "other,dash1,0,0,0,MAINT,1\n"
)


def test_show_stat_gives_each_replicas_status() -> None:
    assert parse_server_status(SHOW_STAT) == {"dash1": "UP", "dash2": "DOWN 1/2", "dash3": "DRAIN"}
    assert parse_server_status("") == {}
    assert parse_server_status("Unknown command\n") == {}


# --- haproxy -c -----------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("which", ["shipped", "loopback"])
def test_haproxy_accepts_the_config(which: str, tmp_path: Path) -> None:
    path = SHIPPED
    if which == "loopback":
        path = tmp_path / "haproxy.cfg"
        path.write_text(build_haproxy_config(LOOPBACK, "make scale's"))
    check = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(path)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Configuration file is valid" in check.stdout
    # No warning either: a directive HAProxy ignores would pass -c with one.
    assert "WARNING" not in check.stdout + check.stderr, check.stdout + check.stderr
