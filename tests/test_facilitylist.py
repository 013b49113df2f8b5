"""nemlive.extract.facilitylist: OE's facility list fetched at most once a day, kept on disk.

Against the in-process OE simulator, counting what it was asked; the cache's clock is a
variable, never the real one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from nemlive.common.errors import ApiError, ConfigError
from nemlive.extract.facilitylist import CachedFacilityList, default_cache_path
from nemlive.extract.oeclient import ClientSettings, OEClient
from nemlive.extract.pipeline import Extraction
from oesim.testing import run_simulator  # test infrastructure; production never imports it

KEY = "nemlive-facilitylist-key-Vb83Qs"  # distinctive, so a leak is easy to find
DAY = 86_400.0
T0 = 1_790_000_000.0


class Utc:
    """The cache's clock: epoch seconds, moved by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim() -> Iterator[Any]:
    with run_simulator(dataset="small", keys=(KEY,)) as handle:
        yield handle


def _client(sim: Any) -> OEClient:
    settings = ClientSettings(base_url=sim.url, api_key=KEY, max_retries=0, min_interval=0.0)
    return OEClient(settings, sleep=lambda s: None)


def _extraction(sim: Any) -> Extraction:
    t = datetime(2026, 12, 1)
    return Extraction(network="NEM", start=t, end=t, api_url=sim.url, source="simulator")


def _listing(sim: Any, path: Path, utc: Utc, client: OEClient | None = None) -> CachedFacilityList:
    return CachedFacilityList(client or _client(sim), _extraction(sim), path, utc=utc)


def _fetches(sim: Any) -> int:
    return sim.requests.count("/facilities/")


def test_the_default_cache_is_beside_the_lookup_table() -> None:
    assert default_cache_path(Path("data/facilities.csv")) == Path("data/oe-facilities.json")
    assert default_cache_path(Path("live/nemweb-simulator/facilities.csv")) == Path(
        "live/nemweb-simulator/oe-facilities.json"
    )


def test_a_restart_within_a_day_asks_for_nothing(sim: Any, tmp_path: Path) -> None:
    path, utc = tmp_path / "oe-facilities.json", Utc()
    first = _listing(sim, path, utc).lookup()
    assert _fetches(sim) == 1
    listed = {f["code"] for f in sim.dataset.facilities()}
    assert first.facility_ids and set(first.facility_ids) <= listed
    utc.now += DAY - 1
    again = _listing(sim, path, utc).lookup()  # a new process: only the file is shared
    assert _fetches(sim) == 1
    assert again.facility_ids == first.facility_ids
    saved = json.loads(path.read_text())
    assert saved["fetched_at_epoch"] == T0 and saved["api_url"] == sim.url
    assert KEY not in path.read_text()


def test_a_day_old_list_is_fetched_again_once(sim: Any, tmp_path: Path) -> None:
    path, utc = tmp_path / "oe-facilities.json", Utc()
    listing = _listing(sim, path, utc)
    listing.lookup()
    utc.now += DAY
    listing.lookup()
    listing.lookup()
    assert _fetches(sim) == 2
    assert json.loads(path.read_text())["fetched_at_epoch"] == T0 + DAY


def test_a_failed_fetch_uses_the_stale_list_with_one_warning(
    sim: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, utc = tmp_path / "oe-facilities.json", Utc()
    first = _listing(sim, path, utc).lookup()
    utc.now += 3 * DAY
    sim.faults.inject("503", count=5, path_contains="/facilities/")
    listing = _listing(sim, path, utc)
    with caplog.at_level(logging.WARNING, logger="extractor"):
        assert listing.lookup().facility_ids == first.facility_ids
        assert listing.lookup().facility_ids == first.facility_ids  # no new try at once
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "using the one saved in" in warnings[0], warnings
    assert "3 d" in warnings[0] and KEY not in warnings[0]
    assert _fetches(sim) == 2  # the first fetch and the one that failed


def test_a_failed_fetch_without_a_cache_is_an_error(sim: Any, tmp_path: Path) -> None:
    sim.faults.inject("503", count=5, path_contains="/facilities/")
    with pytest.raises(ApiError):
        _listing(sim, tmp_path / "oe-facilities.json", Utc()).lookup()


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"response": {}}', b'{"response": [], "fetched_at_epoch": 1}'],
    ids=["not-json", "a-list", "no-time", "no-response"],
)
def test_a_corrupt_cache_is_ignored_with_one_line(
    sim: Any, tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "oe-facilities.json"
    path.write_bytes(content)
    with caplog.at_level(logging.INFO, logger="extractor"):
        lookup = _listing(sim, path, Utc()).lookup()
    assert lookup.facility_ids
    assert _fetches(sim) == 1
    assert len([r for r in caplog.records if "ignoring the facility list" in r.getMessage()]) == 1
    assert json.loads(path.read_text())["fetched_at_epoch"] == T0  # replaced by the fetch


def test_a_list_from_another_api_is_fetched_again(sim: Any, tmp_path: Path) -> None:
    path, utc = tmp_path / "oe-facilities.json", Utc()
    _listing(sim, path, utc).lookup()
    record = json.loads(path.read_text())
    path.write_text(json.dumps(record | {"api_url": "https://api.openelectricity.org.au/v4"}))
    _listing(sim, path, utc).lookup()
    assert _fetches(sim) == 2


def test_without_a_key_only_the_cache_answers(sim: Any, tmp_path: Path) -> None:
    path, utc = tmp_path / "oe-facilities.json", Utc()
    with pytest.raises(ConfigError, match="set OPENELECTRICITY_API_KEY"):
        CachedFacilityList(None, _extraction(sim), path, utc=utc).lookup()
    _listing(sim, path, utc).lookup()
    utc.now += 2 * DAY  # stale, and nothing to fetch with: the saved list, with a warning
    lookup = CachedFacilityList(None, _extraction(sim), path, utc=utc).lookup()
    assert lookup.facility_ids
    assert _fetches(sim) == 1


def test_the_facilities_flag_applies_to_a_saved_list(sim: Any, tmp_path: Path) -> None:
    path, utc = tmp_path / "oe-facilities.json", Utc()
    everything = _listing(sim, path, utc).lookup()
    code = sorted(everything.facility_ids)[0]
    t = datetime(2026, 12, 1)
    only = Extraction(
        network="NEM", start=t, end=t, facilities=(code,), api_url=sim.url, source="simulator"
    )
    lookup = CachedFacilityList(_client(sim), only, path, utc=utc).lookup()
    assert list(lookup.facility_ids) == [code]
    assert _fetches(sim) == 1
