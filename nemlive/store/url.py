"""Store URLs: ``sqlite:///path.db`` or ``postgresql://user[:password]@host[:port]/db``.

Parsed once into a :class:`StoreUrl`. Its ``display`` form has the password replaced by
``***`` and is the only form that may reach a log line or an error message; :func:`scrub`
removes the password from any other text (a driver's error message) before it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from nemlive.common.errors import ConfigError

DEFAULT_STORE_URL = "sqlite:///nemlive.db"
Backend = Literal["sqlite", "postgresql"]
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


@dataclass(frozen=True)
class StoreUrl:
    """Where the history lives.

    ``target``: the SQLite file path (``:memory:`` allowed), or the libpq connection URI
    (with the password: never log it). ``display``: the URL with ``***`` for a password.
    """

    backend: Backend
    target: str = field(repr=False)
    display: str
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.display


def parse_store_url(text: str, name: str = "--store") -> StoreUrl:
    """Parse a store URL; raise ConfigError naming ``name`` and the accepted forms.

    ``sqlite:///nemlive.db`` is relative to the working directory, ``sqlite:////abs/x.db``
    absolute (three slashes, then the path). ``postgres://`` is accepted as ``postgresql://``.
    """
    text = text.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError(_usage(name, "has no scheme"))
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ConfigError(_usage(name, "needs three slashes then a file name"))
        path = rest[1:]
        if "?" in path or "#" in path:
            raise ConfigError(_usage(name, "takes no query string for SQLite"))
        return StoreUrl("sqlite", path, f"sqlite:///{path}")
    if scheme in _POSTGRES_SCHEMES:
        parts = urlsplit(text)
        if not parts.hostname and "host=" not in parts.query:
            raise ConfigError(_usage(name, "names no host"))
        if not parts.path.strip("/"):
            raise ConfigError(_usage(name, "names no database"))
        password = unquote(parts.password) if parts.password is not None else None
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.partition(":")[0]
            netloc = f"{user}:***@{hostport}"
        display = urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))
        display = scrub(display, password)
        target = urlunsplit(("postgresql", *parts[1:]))
        return StoreUrl("postgresql", target, display, password)
    raise ConfigError(_usage(name, f"has the scheme {scheme!r}"))


def _usage(name: str, problem: str) -> str:
    return (
        f"{name} {problem}: use sqlite:///nemlive.db (a file) or postgresql://user@host:5432/dbname"
    )


def scrub(text: str, password: str | None) -> str:
    """``text`` with every occurrence of ``password`` (and its URL-quoted form) as ``***``."""
    if not password:
        return text
    for secret in {password, quote(password, safe="")}:
        text = text.replace(secret, "***")
    return text


def sqlite_path(url: StoreUrl) -> Path | None:
    """The SQLite file of ``url``, or None for ``:memory:`` and PostgreSQL."""
    if url.backend != "sqlite" or url.target == ":memory:":
        return None
    return Path(url.target)
