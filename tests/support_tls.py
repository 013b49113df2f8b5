"""Real mosquitto brokers with TLS (a throwaway CA made with the openssl CLI) or a password.

Shared by the publisher's and the dashboard ingest's tests: both clients must trust a
broker's own CA through MQTT_CA_FILE. Debian's mosquitto on an ephemeral loopback port, like
the ``mosquitto`` fixture in conftest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Mosquitto


def need_tool(tool: str) -> str:
    """The path of ``tool``; skip the test without it (fail under REQUIRE_BROKER=1)."""
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is not installed (apt-get install mosquitto openssl)"
        if os.environ.get("REQUIRE_BROKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate clients trust
    cert: Path  # server certificate for IP:127.0.0.1 and DNS:localhost
    key: Path
    other_cert: Path  # signed by the same CA, for DNS:broker.example.net only
    other_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(
        [need_tool("openssl"), *args], cwd=cwd, check=True, capture_output=True, timeout=30
    )


def make_tls_files(d: Path) -> TlsFiles:
    """A throwaway CA and server certificates signed by it in ``d`` (EC P-256, 2 days)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=NEM Live test CA", cwd=d)  # fmt: skip

    def issue(name: str, cn: str, san: str) -> None:
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text(
            f"subjectAltName={san}\n"
            "basicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
        )
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext", cwd=d)  # fmt: skip

    issue("server", "localhost", "IP:127.0.0.1,DNS:localhost")
    issue("other", "broker.example.net", "DNS:broker.example.net")
    return TlsFiles(
        ca=d / "ca.pem",
        cert=d / "server.pem",
        key=d / "server.key",
        other_cert=d / "other.pem",
        other_key=d / "other.key",
    )


def start_tls_broker(workdir: Path, ca: Path, cert: Path, key: Path) -> Mosquitto:
    workdir.mkdir()
    settings = [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}", "allow_anonymous true"]
    return Mosquitto(workdir=workdir, persistence=False, settings=settings).start()


def write_password_file(path: Path, user: str, password: str, create: bool = True) -> Path:
    """A mosquitto password file with ``user``, made by mosquitto_passwd (``create``: a new
    file with that one user; else the user is added to ``path``)."""
    subprocess.run(
        [
            need_tool("mosquitto_passwd"),
            "-b",
            *(["-c"] if create else []),
            str(path),
            user,
            password,
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path
