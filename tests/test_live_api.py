"""extractor.py against the real OpenElectricity API: runs only with a key.

conftest copies ``OPENELECTRICITY_API_KEY`` into ``NEMLIVE_TEST_LIVE_KEY`` (and removes the
original so other tests never see it). Without it these tests skip. They spend about five
requests of the COMMUNITY plan's daily credits.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nemlive.common.nemtime import last_nem_midnight
from nemlive.extract import rollup
from nemlive.extract.oeclient import DEFAULT_API_URL, ClientSettings, OEClient
from tests.support_extractor import read_csv, run_extractor

pytestmark = [pytest.mark.live, pytest.mark.integration]


@pytest.fixture
def live_key() -> str:
    key = os.environ.get("NEMLIVE_TEST_LIVE_KEY")
    if not key:
        pytest.skip("set OPENELECTRICITY_API_KEY to run the live API tests")
    return key


def test_live_day_for_three_facilities(live_key: str, tmp_path: Path) -> None:
    # Pick facilities from the live list at run time (nothing real is stored in the project).
    with OEClient(ClientSettings(base_url=DEFAULT_API_URL, api_key=live_key)) as client:
        lookup = rollup.build_lookup(client.fetch_facilities("NEM"), "NEM")
    assert len(lookup.facilities) > 300
    codes = [f.facility_id for f in lookup.facilities if f.region_id in rollup.NEM_REGIONS][:3]
    end = last_nem_midnight(datetime.now(UTC)) - timedelta(days=1)
    start = end - timedelta(days=1)
    proc = run_extractor(
        [
            "--start",
            start.strftime("%Y-%m-%d"),
            "--end",
            end.strftime("%Y-%m-%d"),
            "--facilities",
            ",".join(codes),
        ],
        cwd=tmp_path,
        timeout=300,
        OPENELECTRICITY_API_KEY=live_key,
    )
    assert proc.returncode == 0, proc.stderr
    header, rows = read_csv(tmp_path / "consolidate.csv")
    assert 0 < len(rows) <= 288
    assert [c for c in header if c.startswith("power_")] == [f"power_{c}" for c in sorted(codes)]
    assert all(r[0].endswith("+10:00") for r in rows)
    meta = json.loads((tmp_path / "consolidate.meta.json").read_text())
    assert meta["source"] == "openelectricity"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert live_key.encode() not in path.read_bytes()
    assert live_key not in proc.stderr + proc.stdout
