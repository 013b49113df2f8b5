"""URLs as logs may show them: without credentials, query or fragment.

The extractor's API URL and the alerter's webhooks (whose tokens often sit in the user info
or the query, ntfy- and Slack-style) are logged through :func:`display_url` only.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def display_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe for logs and the meta file."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is no number: left out
        port = None
    if port:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
