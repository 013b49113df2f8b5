"""The facility list from Open Electricity, fetched at most once a day and kept on disk.

Following NEMweb, the 5-minute stream costs no credits; the facility list (names, places,
fuels, units, whose codes are AEMO's DUIDs) still comes from OE's ``GET /facilities/``, one
request. :class:`CachedFacilityList` keeps that answer in a JSON file (``oe-facilities.json``
beside the lookup table) with the time it was fetched, so a restart within a day asks for
nothing:

* a cache younger than ``max_age_s`` (a day) from the same API and network is used as is;
* else the list is fetched, saved atomically and used;
* a failed fetch falls back on a stale cache, with one WARNING line;
* a corrupt cache file is ignored, with one line, and fetched again.

The file holds the API's answer, its base URL without credentials, the network and the fetch
time: never a key or any other secret.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from nemlive.common.atomicfile import write_files_atomically
from nemlive.common.errors import ApiError, ConfigError
from nemlive.common.urls import display_url
from nemlive.extract import rollup
from nemlive.extract.budget import format_duration
from nemlive.extract.oeclient import KEY_SIGNUP_URL, OEClient
from nemlive.extract.pipeline import Clock, Extraction, lookup_from_payload

log = logging.getLogger("extractor")

DAY_S = 86_400
CACHE_NAME = "oe-facilities.json"
CACHE_VERSION = 1
RETRY_S = 3_600  # after a failed fetch, the stale list serves this long before the next try


class FacilityList(Protocol):
    """What a follower needs of the facility list: the lookup, as fresh as it is kept."""

    def lookup(self) -> rollup.Lookup: ...


def default_cache_path(facilities_out: Path) -> Path:
    """``oe-facilities.json`` beside the lookup table (``data/`` by default, or a live folder)."""
    return facilities_out.parent / CACHE_NAME


class CachedFacilityList:
    """:class:`FacilityList` over OE's ``/facilities/``, kept in ``cache_path`` (module doc).

    ``client`` None: no key, so only the cache (stale or not) can answer. ``utc``: the clock
    the cache's age is measured on (epoch seconds).
    """

    def __init__(
        self,
        client: OEClient | None,
        extraction: Extraction,
        cache_path: Path,
        *,
        utc: Callable[[], float] = time.time,
        max_age_s: float = DAY_S,
    ) -> None:
        self.client = client
        self.ex = extraction
        self.cache_path = cache_path
        self.utc = utc
        self.max_age_s = max_age_s
        self._held: tuple[float, rollup.Lookup] | None = None  # (fetched at, lookup)

    @property
    def api_url(self) -> str:
        return display_url(self.ex.api_url)

    def lookup(self) -> rollup.Lookup:
        """The lookup: from memory or the cache while younger than ``max_age_s``, else
        fetched (one request). Raise NemLiveError when neither can answer."""
        now = self.utc()
        if self._held is None:
            self._held = self.read_cache()
        if self._held is not None and now - self._held[0] < self.max_age_s:
            return self._held[1]
        try:
            self._held = self.fetch(now)
        except (ApiError, ConfigError) as exc:
            if self._held is None or (isinstance(exc, ConfigError) and self.client is not None):
                raise
            why = "no OPENELECTRICITY_API_KEY" if self.client is None else str(exc)
            log.warning(
                "the facility list could not be fetched (%s): using the one saved in %s, "
                "%s old; trying again in an hour",
                why,
                self.cache_path,
                format_duration(now - self._held[0]),
            )
            self._held = (now - self.max_age_s + RETRY_S, self._held[1])
        return self._held[1]

    def fetch(self, now: float) -> tuple[float, rollup.Lookup]:
        """``GET /facilities/``, parsed, then saved (a failed save is one WARNING line)."""
        if self.client is None:
            raise ConfigError(
                "no facility list: set OPENELECTRICITY_API_KEY (free key at "
                f"{KEY_SIGNUP_URL}); the facility list comes from Open Electricity, one "
                "request a day"
            )
        payload = self.client.fetch_facilities(self.ex.network)
        lookup = lookup_from_payload(payload, self.ex, Clock())
        self.save(payload, now)
        return now, lookup

    def save(self, payload: dict[str, Any], now: float) -> None:
        record = {
            "version": CACHE_VERSION,
            "fetched_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            "fetched_at_epoch": now,
            "api_url": self.api_url,
            "network": self.ex.network,
            "response": payload,
        }
        data = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
        try:
            write_files_atomically([(self.cache_path, data)])
        except OSError as exc:
            log.warning(
                "cannot save the facility list to %s (%s): it is fetched again at the next start",
                self.cache_path,
                exc.strerror or exc,
            )

    def read_cache(self) -> tuple[float, rollup.Lookup] | None:
        """(fetched at, lookup) from the cache file; None when missing, from another API or
        network, or corrupt (one line)."""
        try:
            record = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as exc:
            return self._ignore(f"unreadable ({type(exc).__name__})")
        if not isinstance(record, dict) or not isinstance(record.get("response"), dict):
            return self._ignore("not a saved facility list")
        fetched = record.get("fetched_at_epoch")
        if isinstance(fetched, bool) or not isinstance(fetched, int | float):
            return self._ignore("no fetch time")
        if record.get("api_url") != self.api_url or record.get("network") != self.ex.network:
            log.info(
                "the facility list in %s is from another API or network: fetching it",
                self.cache_path,
            )
            return None
        try:
            lookup = lookup_from_payload(record["response"], self.ex, Clock())
        except (ApiError, ConfigError) as exc:
            return self._ignore(str(exc))
        return float(fetched), lookup

    def _ignore(self, why: str) -> None:
        log.warning("ignoring the facility list in %s: %s", self.cache_path, why)
        return None
