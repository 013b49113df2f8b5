"""Store URLs: ``sqlite:///path.db`` or ``postgresql://user[:password]@host[:port]/db[?...]``.

Parsed once into a :class:`StoreUrl`, which keeps three forms apart:

* ``target``: what the driver gets, secrets included; never shown anywhere.
* ``display``: the URL with ``***`` for the userinfo password and for the value of every query
  parameter whose name holds ``password``, ``secret`` or ``token`` (``sslpassword`` among
  them): the only form that may reach the operator's logs and error messages.
* ``for_viewers``: the kind of store and where it is (``PostgreSQL on db.example:5432``,
  ``SQLite file nemlive.db``): no user, no password, no query, no folder. The only form a
  dashboard shows.

:meth:`StoreUrl.scrub` removes every secret from any other text (a driver's error message,
which can quote the connection string, or libpq's ``key=value`` conninfo form).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from nemlive.common.errors import ConfigError

DEFAULT_STORE_URL = "sqlite:///nemlive.db"
Backend = Literal["sqlite", "postgresql"]
MASK = "***"
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
# A parameter is a secret when its name holds one of these (libpq's password and sslpassword;
# and generously, whatever a proxy or a later libpq may add).
_SECRET_WORDS = ("password", "secret", "token")
_SECRET_NAME = r"[\w.-]*(?:password|secret|token)[\w.-]*"
# name=value in a URL query or in libpq's conninfo (where a value may be 'quoted').
_SECRET_PAIR = re.compile(
    rf"(?i)\b({_SECRET_NAME})(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&'#]*)",
)
# scheme://user:password@ in any URL of the text.
_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/?#@\s]*:)[^@\s/]*@")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,19}")


@dataclass(frozen=True)
class StoreUrl:
    """Where the history lives (the module doc gives the forms).

    ``target``: the SQLite file path (``:memory:`` allowed), or the libpq connection URI
    (with the secrets: never log it). ``secrets``: every password-like value of the URL, as
    written and decoded, for :meth:`scrub`. ``hosts``: the host names (no port), which scrub
    leaves whole (a short password may also be part of a host name).
    """

    backend: Backend
    target: str = field(repr=False)
    display: str
    for_viewers: str
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
    hosts: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.display

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this URL (and any password-like value) as ``***``."""
        return scrub(text, self.secrets, keep=self.hosts)


def parse_store_url(text: str, name: str = "--store") -> StoreUrl:
    """Parse a store URL; raise ConfigError naming ``name`` and the accepted forms.

    ``sqlite:///nemlive.db`` is relative to the working directory, ``sqlite:////abs/x.db``
    absolute (three slashes, then the path). ``postgres://`` is accepted as ``postgresql://``.
    libpq's ``host=... dbname=...`` form is refused (it has no scheme). No error repeats the
    text, which may hold a password.
    """
    text = text.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError(_usage(name, "has no scheme"))
    if scheme == "sqlite":
        return _parse_sqlite(rest, name)
    if scheme in _POSTGRES_SCHEMES:
        return _parse_postgres(text, name)
    shown = f" {scheme!r}" if _SCHEME.fullmatch(scheme) else " it does not know"
    raise ConfigError(_usage(name, f"has the scheme{shown}"))


def _parse_sqlite(rest: str, name: str) -> StoreUrl:
    if not rest.startswith("/") or rest == "/":
        raise ConfigError(_usage(name, "needs three slashes then a file name"))
    path = rest[1:]
    if "?" in path or "#" in path:
        raise ConfigError(_usage(name, "takes no query string for SQLite"))
    where = "SQLite in memory" if path == ":memory:" else f"SQLite file {PurePath(path).name}"
    return StoreUrl("sqlite", path, f"sqlite:///{path}", where)


def _parse_postgres(text: str, name: str) -> StoreUrl:
    try:
        parts = urlsplit(text)
    except ValueError:  # its message quotes the netloc, password included
        raise ConfigError(_usage(name, "is not a valid URL")) from None
    query = [pair.partition("=") for pair in parts.query.split("&") if pair]
    if not parts.hostname and not any(key == "host" for key, _, _ in query):
        raise ConfigError(_usage(name, "names no host"))
    if not parts.path.strip("/"):
        raise ConfigError(_usage(name, "names no database"))
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, raw_password = userinfo.partition(":")
    secrets = _forms(raw_password) if colon else set()
    netloc = f"{user}:{MASK}@{hostport}" if colon else parts.netloc
    shown_query = []
    for key, eq, value in query:
        if eq and _is_secret_name(key):
            secrets |= _forms(value)
            value = MASK
        shown_query.append(f"{key}{eq}{value}")
    display = urlunsplit(("postgresql", netloc, parts.path, "&".join(shown_query), ""))
    hosts = _postgres_hosts(hostport, query)
    target = urlunsplit(("postgresql", *parts[1:]))
    where = f"PostgreSQL on {','.join(hosts)}" if hosts else "PostgreSQL"
    names = tuple(_host_name(h) for h in hosts)
    return StoreUrl("postgresql", target, display, where, frozenset(secrets), names)


def _postgres_hosts(hostport: str, query: list[tuple[str, str, str]]) -> tuple[str, ...]:
    """The host[:port] entries of the URL's netloc, else of its ``host=``/``port=`` parameters."""
    named = [unquote(h) for h in hostport.split(",") if h]
    if named:
        return tuple(named)
    params = {key: unquote(value) for key, _, value in query}
    hosts = [h for h in params.get("host", "").split(",") if h]
    port = params.get("port", "")
    return tuple(f"{h}:{port}" if port and "," not in port else h for h in hosts)


def _host_name(entry: str) -> str:
    """``db.example:5432`` -> ``db.example``; ``[::1]:5432`` -> ``::1``."""
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    return entry.rpartition(":")[0] if ":" in entry else entry


def _is_secret_name(key: str) -> bool:
    return any(word in unquote(key).lower() for word in _SECRET_WORDS)


def _forms(value: str) -> set[str]:
    """A secret as written in the URL, decoded, and quoted again (a driver may echo any)."""
    decoded = unquote(value)
    return {form for form in (value, decoded, quote(decoded, safe="")) if form}


def _usage(name: str, problem: str) -> str:
    return (
        f"{name} {problem}: use sqlite:///nemlive.db (a file) or postgresql://user@host:5432/dbname"
    )


def scrub(text: str, secrets: str | Iterable[str] | None, keep: Iterable[str] = ()) -> str:
    """``text`` with its secrets as ``***``.

    Masked: the password of any ``scheme://user:password@`` in the text; the value of any
    ``name=value`` whose name holds password, secret or token (URL query or libpq conninfo);
    and every occurrence of each of ``secrets`` (a string, or several), with its URL-quoted
    form, except inside the words of ``keep`` (host names, shown anyway: masking a short
    password there would say which part of the host name it is).
    """
    values = {secrets} if isinstance(secrets, str) else set(secrets or ())
    forms = {form for value in values if value for form in _forms(value) | {value}}
    if forms:
        text = _mask_values(text, forms, [word for word in keep if word])
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    return _SECRET_PAIR.sub(rf"\1\2{MASK}", text)


def _mask_values(text: str, forms: set[str], keep: list[str]) -> str:
    """``text`` with each occurrence of ``forms`` as ``***``, but not inside a ``keep`` word."""
    kept = [m.span() for word in keep for m in re.finditer(re.escape(word), text)]
    pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
    hidden = [False] * len(text)
    position = 0  # every start position is tried: occurrences may overlap
    while (match := pattern.search(text, position)) is not None:
        start, end = match.span()
        if not any(a <= start and end <= b for a, b in kept):
            hidden[start:end] = [True] * (end - start)
        position = start + 1
    out = []
    for i, char in enumerate(text):
        if not hidden[i]:
            out.append(char)
        elif i == 0 or not hidden[i - 1]:
            out.append(MASK)
    return "".join(out)


def sqlite_path(url: StoreUrl) -> Path | None:
    """The SQLite file of ``url``, or None for ``:memory:`` and PostgreSQL."""
    if url.backend != "sqlite" or url.target == ":memory:":
        return None
    return Path(url.target)
