"""MQTT connection settings, resolved once: flag, then environment, then default.

Shared by publisher.py and dashboard.py so that both read ``MQTT_HOST``, ``MQTT_PORT``,
``MQTT_TOPIC``, ``MQTT_USERNAME``, ``MQTT_PASSWORD``, ``MQTT_TLS`` and ``MQTT_CA_FILE`` the
same way.
"""

from __future__ import annotations

import argparse
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt

from nemlive.common.errors import ConfigError
from nemlive.common.events import DEFAULT_BASE_TOPIC

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class MqttSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    topic: str = DEFAULT_BASE_TOPIC
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed
    tls: bool = False
    ca_file: Path | None = None  # PEM CA bundle to trust with TLS; None = the system CAs

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS

    @property
    def address(self) -> str:
        """``host:port``, safe to log (no credentials)."""
        return f"{self.host}:{self.port}"


def parse_bool(name: str, text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off/""`` -> bool; raise ConfigError naming ``name``."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={text!r} is not a boolean: use 1 or 0")


def _parse_port(name: str, text: str | int) -> int:
    try:
        port = int(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={text!r} is not a port number: use 1-65535") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{name}={port} is out of range: use 1-65535")
    return port


def _parse_topic(name: str, topic: str) -> str:
    topic = topic.strip().rstrip("/")
    if not topic or any(c in topic for c in "#+\0"):
        raise ConfigError(f"{name}={topic!r} is not a valid base topic: use e.g. nem/stream")
    return topic


def _parse_ca_file(name: str, text: str | Path) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"{name}={str(text)!r} does not exist: give the path of the CA certificate (PEM) "
            "that signed your broker's certificate, or unset it to trust the system CAs"
        )
    return path


def add_mqtt_arguments(parser: argparse.ArgumentParser) -> None:
    """The broker flags the publisher and the recorder share (None = not given), and how
    often to try connecting."""
    parser.add_argument("--host", help="broker host (MQTT_HOST; default localhost)")
    parser.add_argument("--port", help="broker port (MQTT_PORT; default 1883, 8883 with TLS)")
    parser.add_argument("--topic", help="base topic (MQTT_TOPIC; default nem/stream)")
    parser.add_argument("--username", help="broker user name (MQTT_USERNAME)")
    parser.add_argument(
        "--password",
        help="broker password (MQTT_PASSWORD, which is better: a command line is visible to "
        "every local user)",
    )
    parser.add_argument(
        "--tls",
        action="store_const",
        const=True,
        help="connect with TLS, checking the broker's certificate (MQTT_TLS=1)",
    )
    parser.add_argument(
        "--ca-file",
        help="PEM CA certificate that signed the broker's certificate, e.g. for your own "
        "mosquitto; needs --tls (MQTT_CA_FILE; default: the system CAs)",
    )
    parser.add_argument(
        "--connect-retries", type=int, default=5, help="connection attempts before giving up"
    )


def resolve_mqtt_arguments(args: argparse.Namespace, env: Mapping[str, str]) -> MqttSettings:
    """The settings of the flags ``add_mqtt_arguments`` added (and ``env``), resolved once;
    ConfigError for bad values, and ``--connect-retries`` below 1."""
    if args.connect_retries < 1:
        raise ConfigError(f"--connect-retries {args.connect_retries}: use 1 or more")
    return resolve_mqtt_settings(
        env,
        host=args.host,
        port=args.port,
        topic=args.topic,
        username=args.username,
        password=args.password,
        tls=args.tls,
        ca_file=args.ca_file,
    )


def resolve_mqtt_settings(
    env: Mapping[str, str],
    *,
    host: str | None = None,
    port: int | str | None = None,
    topic: str | None = None,
    username: str | None = None,
    password: str | None = None,
    tls: bool | None = None,
    ca_file: str | Path | None = None,
) -> MqttSettings:
    """Flags (keyword arguments, None = not given) win over ``env``, which wins over defaults.

    ``ca_file`` (``MQTT_CA_FILE``) must be an existing file and needs TLS on: a CA file with
    TLS off is a ConfigError rather than silently unused.
    Raises ConfigError with a one-line message that names the bad setting.
    """
    use_tls = tls if tls is not None else parse_bool("MQTT_TLS", env.get("MQTT_TLS", ""))
    if ca_file is not None:
        resolved_ca: Path | None = _parse_ca_file("--ca-file", ca_file)
        ca_name = "--ca-file"
    elif env.get("MQTT_CA_FILE"):
        resolved_ca = _parse_ca_file("MQTT_CA_FILE", env["MQTT_CA_FILE"])
        ca_name = "MQTT_CA_FILE"
    else:
        resolved_ca, ca_name = None, ""
    if resolved_ca is not None and not use_tls:
        raise ConfigError(f"{ca_name} is set but TLS is off: set MQTT_TLS=1 (or pass --tls)")
    if port is not None:
        resolved_port = _parse_port("--port", port)
    elif env.get("MQTT_PORT"):
        resolved_port = _parse_port("MQTT_PORT", env["MQTT_PORT"])
    else:
        resolved_port = DEFAULT_TLS_PORT if use_tls else DEFAULT_PORT
    resolved_topic = (
        _parse_topic("--topic", topic)
        if topic is not None
        else _parse_topic("MQTT_TOPIC", env.get("MQTT_TOPIC") or DEFAULT_BASE_TOPIC)
    )
    return MqttSettings(
        host=(host or env.get("MQTT_HOST") or DEFAULT_HOST).strip(),
        port=resolved_port,
        topic=resolved_topic,
        username=username if username is not None else (env.get("MQTT_USERNAME") or None),
        password=password if password is not None else (env.get("MQTT_PASSWORD") or None),
        tls=use_tls,
        ca_file=resolved_ca,
    )


def retarget(configured: MqttSettings, host: str, port: int, topic: str) -> MqttSettings:
    """``configured`` pointed at another broker or topic, as a dashboard viewer may ask.

    The login is kept only for the host and port it was configured for: a viewer who types
    another address gets an anonymous connection, so the password never goes anywhere the
    operator did not send it. TLS and its CA stay as configured. Raises ConfigError for a bad
    host, port or topic.
    """
    host = host.strip()
    if not host or any(c.isspace() or c in "/@" for c in host):
        raise ConfigError(f"broker host {host!r} is not a host name or address")
    resolved_port = _parse_port("port", port)
    same_broker = (host, resolved_port) == (configured.host, configured.port)
    return MqttSettings(
        host=host,
        port=resolved_port,
        topic=_parse_topic("topic", topic),
        username=configured.username if same_broker else None,
        password=configured.password if same_broker else None,
        tls=configured.tls,
        ca_file=configured.ca_file,
    )


def apply_auth_and_tls(client: mqtt.Client, settings: MqttSettings) -> None:
    """Give a paho client the settings' user name, password and TLS, before it connects.

    With TLS the broker's certificate and host name are always checked, against
    ``settings.ca_file`` or, when it is None, the system CA store. Raise ConfigError when the
    CA file cannot be loaded (not PEM, unreadable). The password is never put in the message.
    """
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if not settings.tls:
        return
    ca = settings.ca_file
    try:
        client.tls_set(ca_certs=str(ca) if ca else None)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise ConfigError(
            f"cannot load the CA file {ca} ({reason}): "
            "give MQTT_CA_FILE/--ca-file as a PEM certificate"
        ) from exc


def new_client_id(prefix: str) -> str:
    """A unique MQTT client id, e.g. ``nemlive-pub-3f9c1a2b``: two clients never kick each other."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
