"""The simulator's NEMweb face (oesim.nemweb) over real HTTP on 127.0.0.1: directory
indexes, publication on the simulated clock, the MMS format read back by the project's own
parser (nemlive.extract.mms), the same numbers as the OE face, the Archive, conditional
requests and the faults."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from itertools import pairwise
from typing import Any

import pytest
import requests

from nemlive.extract import mms
from oesim.__main__ import main as oesim_main
from oesim.credits import CreditLedger
from oesim.nemweb import parse_nemweb_fault
from oesim.nemweb_publish import PUBLISH_DELAY_S, PUBLISH_JITTER_S, publish_times
from oesim.testing import DEMO_KEY, SimulatorHandle, run_simulator
from tests.conftest import ROOT, clean_subprocess_env
from tests.support_oesim_nemweb import (
    NEM,
    HandClock,
    csv_text,
    hrefs,
    listed,
    nemweb_simulator,
    tables,
)

AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}
NOW = datetime(2025, 10, 3, 12, 17, 30, tzinfo=NEM)
SCADA_DIR = "/Reports/Current/Dispatch_SCADA/"
IS_DIR = "/Reports/Current/DispatchIS_Reports/"
NAME = re.compile(r"PUBLIC_(DISPATCHSCADA|DISPATCHIS)_(\d{12})_(\d{16})\.zip")
# Intervals the OE face has settled at NOW (its newest is 12:05): 11:10 to 12:05.
WINDOW = {"date_start": "2025-10-03T11:10:00", "date_end": "2025-10-03T12:10:00"}


@pytest.fixture(scope="module")
def clock() -> HandClock:
    return HandClock(NOW)


@pytest.fixture(scope="module")
def sim(clock: HandClock) -> Iterator[SimulatorHandle]:
    """One simulator for the module (its files are built once): each test starts at NOW
    with no fault armed."""
    with nemweb_simulator(clock) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _fresh(clock: HandClock, sim: SimulatorHandle) -> Iterator[None]:
    clock.now = NOW
    requests.delete(sim.root_url + "/__sim__/nemweb/faults", timeout=30).raise_for_status()
    sim.server.nemweb.archive_span = 1  # build less: the tests need a day or two
    yield
    requests.delete(sim.root_url + "/__sim__/nemweb/faults", timeout=30).raise_for_status()


def stamp_of(name: str) -> datetime:
    match = NAME.fullmatch(name)
    assert match, name
    return datetime.strptime(match.group(2), "%Y%m%d%H%M").replace(tzinfo=NEM)


def file_for(names: list[str], end: datetime) -> str:
    found = [n for n in names if stamp_of(n) == end]
    assert len(found) == 1, (end, found)
    return found[0]


def oe(sim: SimulatorHandle, path: str, **params: Any) -> dict[str, Any]:
    resp = requests.get(sim.url + path, params=params, headers=AUTH, timeout=60)
    resp.raise_for_status()
    return resp.json()


def oe_power(sim: SimulatorHandle) -> dict[tuple[datetime, str], float]:
    """(interval end, unit code) -> the OE face's power over WINDOW, every NEM facility."""
    codes = [f["code"] for f in oe(sim, "/facilities/", network_id="NEM")["data"]]
    out = {}
    for i in range(0, len(codes), 30):
        body = oe(
            sim, "/data/facilities/NEM", facility_code=codes[i : i + 30], metrics="power",
            interval="5m", **WINDOW,
        )  # fmt: skip
        for result in body["data"][0]["results"]:
            for stamp, value in result["data"]:
                if value is not None:
                    out[datetime.fromisoformat(stamp), result["columns"]["unit_code"]] = value
    return out


def oe_market(sim: SimulatorHandle, *metrics: str) -> dict[tuple[str, datetime, str], float]:
    """(metric, interval end, region) -> the OE face's value over WINDOW."""
    body = oe(
        sim, "/market/network/NEM", metrics=list(metrics), primary_grouping="network_region",
        interval="5m", **WINDOW,
    )  # fmt: skip
    return {
        (series["metric"], datetime.fromisoformat(stamp), result["columns"]["region"]): value
        for series in body["data"]
        for result in series["results"]
        for stamp, value in result["data"]
    }


def units(sim: SimulatorHandle) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    facilities = oe(sim, "/facilities/", network_id="NEM")["data"]
    return [(f, u) for f in facilities for u in f["units"]]


def split_of_bidirectional(sim: SimulatorHandle) -> set[str]:
    """Split battery units of facilities that also have a bidirectional battery unit."""
    out = set()
    for fac, unit in units(sim):
        kinds = {u["fueltech_id"] for u in fac["units"]}
        if "battery" in kinds and unit["fueltech_id"] in (
            "battery_charging",
            "battery_discharging",
        ):
            out.add(unit["code"])
    return out


def window_files(sim: SimulatorHandle, directory: str) -> dict[datetime, mms.Tables]:
    names = listed(sim, directory)
    ends = [datetime(2025, 10, 3, 11, 10, tzinfo=NEM) + timedelta(minutes=5 * k) for k in range(12)]
    return {end: tables(sim, directory + file_for(names, end)) for end in ends}


# --- indexes and publication ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("directory", "kind"), [(SCADA_DIR, "DISPATCHSCADA"), (IS_DIR, "DISPATCHIS")]
)
def test_current_lists_three_days_of_published_intervals_ascending(
    sim: SimulatorHandle, directory: str, kind: str
) -> None:
    resp = requests.get(sim.root_url + directory, timeout=60)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert '<pre><A HREF="/Reports/Current/">[To Parent Directory]</A><br><br>' in resp.text
    names = listed(sim, directory)
    assert len(names) == 3 * 288
    assert names == sorted(names)
    assert {NAME.fullmatch(n).group(1) for n in names} == {kind}  # type: ignore[union-attr]
    ends = [stamp_of(n) for n in names]
    assert all(b - a == timedelta(minutes=5) for a, b in pairwise(ends))
    # At 12:17:30 the 12:15 file is out (at most 105 s after 12:15), the 12:20 one is not.
    assert ends[-1] == datetime(2025, 10, 3, 12, 15, tzinfo=NEM)
    assert ends[0] == ends[-1] - timedelta(days=3) + timedelta(minutes=5)
    line = re.compile(
        r" *\w+day, \w+ \d{1,2}, \d{4} +\d{1,2}:\d\d [AP]M +(\d+) "
        rf'<A HREF="{directory}({NAME.pattern})">\2</A><br>'
    )
    sizes = [line.fullmatch(x) for x in resp.text.splitlines()[3:-1]]
    assert all(sizes) and len(sizes) == len(names) - 1
    newest = requests.get(sim.root_url + directory + names[-2], timeout=30)
    assert int(sizes[-1].group(1)) == len(newest.content)  # type: ignore[union-attr]


def test_directories_above_list_their_subdirectories(sim: SimulatorHandle) -> None:
    def subdirs(path: str) -> list[str]:
        resp = requests.get(sim.root_url + path, timeout=30)
        assert resp.status_code == 200 and "&lt;dir&gt;" in resp.text
        return hrefs(resp.text)[1:]

    assert subdirs("/Reports/") == ["/Reports/Archive/", "/Reports/Current/"]
    current = subdirs("/Reports/Current/")
    assert {SCADA_DIR, IS_DIR, "/Reports/Current/CDEII/"} <= set(current)
    archive = subdirs("/Reports/Archive")
    assert archive == ["/Reports/Archive/DispatchIS_Reports/", "/Reports/Archive/Dispatch_SCADA/"]


def test_paths_are_matched_without_regard_to_case(sim: SimulatorHandle) -> None:
    assert listed(sim, "/REPORTS/CURRENT/DISPATCH_SCADA/") == listed(sim, SCADA_DIR)


def test_a_file_appears_only_after_its_publish_delay(
    clock: HandClock, sim: SimulatorHandle
) -> None:
    end = datetime(2025, 10, 3, 12, 20, tzinfo=NEM)
    clock.now = end + timedelta(seconds=PUBLISH_DELAY_S + PUBLISH_JITTER_S)
    name = listed(sim, SCADA_DIR)[-1]
    assert stamp_of(name) == end
    published = requests.get(sim.root_url + SCADA_DIR + name, timeout=30)
    appeared = parsedate_to_datetime(published.headers["Last-Modified"])
    assert end + timedelta(seconds=60) <= appeared <= end + timedelta(seconds=105)
    clock.now = appeared - timedelta(seconds=1)
    assert name not in listed(sim, SCADA_DIR)
    assert requests.get(sim.root_url + SCADA_DIR + name, timeout=30).status_code == 404
    clock.now = appeared
    assert listed(sim, SCADA_DIR)[-1] == name
    assert requests.get(sim.root_url + SCADA_DIR + name, timeout=30).status_code == 200


def test_the_publish_jitter_is_0_to_45_seconds_and_deterministic() -> None:
    ends = [int(NOW.timestamp()) // 300 * 300 + 300 * k for k in range(2000)]
    delays = publish_times(2025, ends) - ends
    assert delays.min() == 60 and delays.max() == 105
    assert len(set(delays.tolist())) == 46
    assert (publish_times(2025, ends) == publish_times(2025, ends)).all()
    assert (publish_times(7, ends) != publish_times(2025, ends)).any()


# --- the format ----------------------------------------------------------------------------


def test_a_scada_file_round_trips_through_the_mms_parser(sim: SimulatorHandle) -> None:
    name = listed(sim, SCADA_DIR)[-1]
    resp = requests.get(sim.root_url + SCADA_DIR + name, timeout=30)
    assert resp.headers["Content-Type"] == "application/zip"
    members = zipfile.ZipFile(io.BytesIO(resp.content)).namelist()
    assert members == [name.removesuffix(".zip") + ".CSV"]
    text = csv_text(resp.content)
    lines = text.split("\r\n")
    assert lines[-1] == "" and "\n" not in "".join(lines)  # CRLF after every line
    assert lines[0].startswith("C,NEMP.WORLD,DISPATCHSCADA,AEMO,PUBLIC,2025/10/03,")
    assert lines[1] == "I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE,LASTCHANGED"
    assert lines[2].startswith('D,DISPATCH,UNIT_SCADA,1,"2025/10/03 12:15:00",')
    assert lines[-2] == f'C,"END OF REPORT",{len(lines) - 1}'
    parsed = mms.parse_mms(text)
    assert list(parsed) == [("DISPATCH", "UNIT_SCADA")]
    rows = mms.unit_scada(parsed[("DISPATCH", "UNIT_SCADA")])
    assert len(rows) > 250
    assert {r.interval_end for r in rows} == {datetime(2025, 10, 3, 12, 15, tzinfo=NEM)}
    assert len({r.duid for r in rows}) == len(rows)


def test_a_dispatchis_file_holds_several_tables(sim: SimulatorHandle) -> None:
    name = listed(sim, IS_DIR)[-1]
    text = csv_text(requests.get(sim.root_url + IS_DIR + name, timeout=30).content)
    assert text.endswith(f'C,"END OF REPORT",{text.count(chr(10))}\r\n')
    parsed = mms.parse_mms(text)
    assert {("DISPATCH", t) for t in ("PRICE", "REGIONSUM", "INTERCONNECTORRES")} <= set(parsed)
    end = datetime(2025, 10, 3, 12, 15, tzinfo=NEM)
    prices = mms.region_prices(parsed[("DISPATCH", "PRICE")])
    assert sorted(p.region_id for p in prices) == ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]
    demand = mms.region_demand(parsed[("DISPATCH", "REGIONSUM")])
    flows = mms.interconnector_flows(parsed[("DISPATCH", "INTERCONNECTORRES")])
    assert sorted(f.interconnector_id for f in flows) == sorted(mms.INTERCONNECTORS)
    assert {x.interval_end for x in [*prices, *demand, *flows]} == {end}
    price_rows = parsed[("DISPATCH", "PRICE")]
    assert all(r["RUNNO"] == "1" and r["INTERVENTION"] == "0" for r in price_rows)
    assert {r["DISPATCHINTERVAL"] for r in price_rows} == {"20251003099"}  # 12:15 = 04:00 + 99 x 5'


# --- the same numbers as the OE face -------------------------------------------------------


def test_scada_equals_the_oe_face_power(sim: SimulatorHandle) -> None:
    power = oe_power(sim)
    split = split_of_bidirectional(sim)
    scada = {
        (row.interval_end, row.duid): row.power_mw
        for parsed in window_files(sim, SCADA_DIR).values()
        for row in mms.unit_scada(parsed[("DISPATCH", "UNIT_SCADA")])
    }
    expected = {key: value for key, value in power.items() if key[1] not in split}
    assert len({k[0] for k in expected}) == 12
    assert scada == expected


def test_a_bidirectional_battery_is_one_signed_duid(sim: SimulatorHandle) -> None:
    split = split_of_bidirectional(sim)
    assert split
    batteries = {u["code"] for f, u in units(sim) if u["fueltech_id"] == "battery"}
    duids = defaultdict(list)
    for parsed in window_files(sim, SCADA_DIR).values():
        for row in mms.unit_scada(parsed[("DISPATCH", "UNIT_SCADA")]):
            duids[row.duid].append(row.power_mw)
    assert not split & set(duids)
    assert batteries & set(duids)
    assert min(v for b in batteries & set(duids) for v in duids[b]) < 0  # midday: charging
    pumps = {u["code"] for f, u in units(sim) if u["fueltech_id"] == "pumps"}
    assert all(v >= 0 for p in pumps & set(duids) for v in duids[p])


def test_cdeii_factors_equal_the_oe_face_units(sim: SimulatorHandle) -> None:
    index = requests.get(sim.root_url + "/Reports/Current/CDEII/", timeout=30)
    assert hrefs(index.text)[1:] == ["/Reports/Current/CDEII/CO2EII_AVAILABLE_GENERATORS.CSV"]
    resp = requests.get(sim.root_url + hrefs(index.text)[1], timeout=30)
    assert resp.headers["Content-Type"].startswith("text/csv")
    rows = mms.parse_mms(resp.content.decode())[("CO2EII", "PUBLISHING")]
    assert {"STATIONNAME", "CO2E_ENERGY_SOURCE", "CO2E_DATA_SOURCE"} <= set(rows[0])
    factors = mms.duid_emission_factors(mms.emission_factors(rows))
    split = split_of_bidirectional(sim)
    # Every generating unit, at 0 without a factor (wind, solar, storage); loads are left out.
    expected = {
        u["code"]: u.get("emissions_factor_co2", 0.0)
        for f, u in units(sim)
        if u["status_id"] != "retired"
        and u["code"] not in split
        and u["fueltech_id"] not in ("pumps", "battery_charging")
    }
    assert sum(1 for v in expected.values() if v > 0) > 100
    assert sum(1 for v in expected.values() if v == 0) > 100
    assert factors == expected


def test_prices_demand_and_flows_equal_the_oe_face(sim: SimulatorHandle) -> None:
    market = oe_market(sim, "price", "demand", "flow_imports", "flow_exports")
    checked = 0
    for end, parsed in window_files(sim, IS_DIR).items():
        flows = mms.interconnector_flows(parsed[("DISPATCH", "INTERCONNECTORRES")])
        sides = mms.imports_exports(flows)
        net = mms.net_interchange(flows)
        for p in mms.region_prices(parsed[("DISPATCH", "PRICE")]):
            assert p.price_aud_per_mwh == market["price", end, p.region_id]
        for d in mms.region_demand(parsed[("DISPATCH", "REGIONSUM")]):
            region = d.region_id
            assert d.total_demand_mw == market["demand", end, region]
            assert sides[region][0] == pytest.approx(market["flow_imports", end, region], abs=1e-3)
            assert sides[region][1] == pytest.approx(market["flow_exports", end, region], abs=1e-3)
            assert d.net_export_mw == pytest.approx(-net[region], abs=1e-5)
            checked += 1
        total = sum(
            d.net_export_mw or 0 for d in mms.region_demand(parsed[("DISPATCH", "REGIONSUM")])
        )
        assert total == pytest.approx(0, abs=1e-6)
        assert any(abs(f.metered_mw) > 1 for f in flows)
    assert checked == 12 * 5


# --- the Archive ----------------------------------------------------------------------------


def test_the_archive_holds_each_day_as_a_zip_of_its_288_zips(
    clock: HandClock, sim: SimulatorHandle
) -> None:
    names = listed(sim, "/Reports/Archive/Dispatch_SCADA/")
    assert names[-1] == "PUBLIC_DISPATCHSCADA_20251002.zip"  # yesterday, whole
    assert names == sorted(names) and len(names) >= 2
    oldest_current = stamp_of(listed(sim, SCADA_DIR)[0])
    assert names[0] < f"PUBLIC_DISPATCHSCADA_{oldest_current:%Y%m%d}.zip"
    resp = requests.get(sim.root_url + "/Reports/Archive/Dispatch_SCADA/" + names[-1], timeout=60)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/zip"
    inner = zipfile.ZipFile(io.BytesIO(resp.content)).namelist()
    assert len(inner) == 288
    ends = [stamp_of(n) for n in inner]
    assert ends[0] == datetime(2025, 10, 2, 0, 5, tzinfo=NEM)
    assert ends[-1] == datetime(2025, 10, 3, 0, 0, tzinfo=NEM)
    members = mms.read_zip(resp.content)
    assert len(members) == 288
    for text in list(members.values())[:3]:
        assert mms.unit_scada(mms.parse_mms(text)[("DISPATCH", "UNIT_SCADA")])
    dispatch = listed(sim, "/Reports/Archive/DispatchIS_Reports/")
    assert dispatch[-1] == "PUBLIC_DISPATCHIS_20251002.zip"


# --- HTTP ---------------------------------------------------------------------------------


def test_conditional_requests_get_304_until_the_next_file(
    clock: HandClock, sim: SimulatorHandle
) -> None:
    sim.requests.clear()
    first = requests.get(sim.root_url + SCADA_DIR, timeout=60)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        again = requests.get(sim.root_url + SCADA_DIR, headers=headers, timeout=30)
        assert again.status_code == 304 and again.content == b""
    name = listed(sim, SCADA_DIR)[-1]
    file = requests.get(sim.root_url + SCADA_DIR + name, timeout=30)
    cached = {"If-None-Match": file.headers["ETag"]}
    assert requests.get(sim.root_url + SCADA_DIR + name, headers=cached).status_code == 304
    clock.advance(300)  # the next interval is out
    newer = requests.get(sim.root_url + SCADA_DIR, headers={"If-None-Match": etag}, timeout=60)
    assert newer.status_code == 200 and newer.headers["ETag"] != etag
    since = requests.get(sim.root_url + SCADA_DIR, headers={"If-Modified-Since": modified})
    assert since.status_code == 200
    assert sim.requests.count(SCADA_DIR, status=304) == 3


def test_head_announces_the_length_without_a_body(sim: SimulatorHandle) -> None:
    name = listed(sim, SCADA_DIR)[-1]
    head = requests.head(sim.root_url + SCADA_DIR + name, timeout=30)
    get = requests.get(sim.root_url + SCADA_DIR + name, timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(get.content)) == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]


def test_no_key_is_needed_and_no_credit_is_spent() -> None:
    with nemweb_simulator(HandClock(NOW), credits=CreditLedger(1)) as sim:
        for _ in range(3):
            assert requests.get(sim.root_url + "/Reports/Current/", timeout=30).status_code == 200
        assert oe(sim, "/me")["data"]["credits"]["remaining"] == 0  # /me took the only one


def test_without_live_every_report_is_a_404_saying_so() -> None:
    with run_simulator("nem", seed=2025) as sim:
        resp = requests.get(sim.root_url + SCADA_DIR, timeout=30)
        assert resp.status_code == 404
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert "--live" in resp.text and resp.text.count("\n") == 1
        status = requests.get(sim.root_url + "/__sim__/nemweb", timeout=30).json()
        assert status["live"] is False


def test_the_request_log_records_nemweb_requests(sim: SimulatorHandle) -> None:
    sim.requests.clear()
    listed(sim, SCADA_DIR)
    requests.get(
        sim.root_url + SCADA_DIR + "PUBLIC_DISPATCHSCADA_209901010000_0000000000000001.zip"
    )
    assert sim.requests.count(SCADA_DIR, status=200) == 1
    assert sim.requests.count(SCADA_DIR, status=404) == 1


# --- faults -------------------------------------------------------------------------------


def arm(sim: SimulatorHandle, kind: str, count: int = 1, **extra: Any) -> dict[str, Any]:
    resp = requests.post(
        sim.root_url + "/__sim__/nemweb/faults", params={"kind": kind, "count": count, **extra}
    )
    resp.raise_for_status()
    return resp.json()


def next_end(clock: HandClock) -> datetime:
    """The first interval whose file is not out at ``clock.now``."""
    end = clock.now.replace(second=0, microsecond=0) - timedelta(minutes=clock.now.minute % 5)
    while publish_times(2025, [int(end.timestamp())])[0] <= clock.now.timestamp():
        end += timedelta(minutes=5)
    return end


def test_late_files_appear_late(clock: HandClock, sim: SimulatorHandle) -> None:
    late = next_end(clock)
    state = arm(sim, "late", 1, seconds=600)
    assert state["faults"] == [{"interval_end": late.isoformat(), "kind": "late", "seconds": 600}]
    clock.now = late + timedelta(seconds=400)  # the next interval is out, this one is not
    ends = [stamp_of(n) for n in listed(sim, SCADA_DIR)]
    assert late not in ends and late + timedelta(minutes=5) in ends
    assert late not in [stamp_of(n) for n in listed(sim, IS_DIR)]
    clock.now = late + timedelta(seconds=PUBLISH_DELAY_S + PUBLISH_JITTER_S + 600)
    ends = [stamp_of(n) for n in listed(sim, SCADA_DIR)]
    assert late in ends and ends == sorted(ends)


def test_missing_files_never_reach_current_but_reach_the_archive(
    clock: HandClock, sim: SimulatorHandle
) -> None:
    first = next_end(clock)
    arm(sim, "missing", 2)
    clock.advance(3600)
    ends = set(map(stamp_of, listed(sim, SCADA_DIR)))
    gone = {first, first + timedelta(minutes=5)}
    assert not gone & ends and first + timedelta(minutes=10) in ends
    assert not gone & set(map(stamp_of, listed(sim, IS_DIR)))
    clock.now = datetime(2025, 10, 4, 2, 0, tzinfo=NEM)  # the day is in the Archive
    day = "/Reports/Archive/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_20251003.zip"
    inner = zipfile.ZipFile(io.BytesIO(requests.get(sim.root_url + day).content)).namelist()
    assert gone <= set(map(stamp_of, inner)) and len(inner) == 288


def test_a_replaced_file_leaves_the_index_for_its_successor(
    clock: HandClock, sim: SimulatorHandle
) -> None:
    end = next_end(clock)
    arm(sim, "replaced", 1)
    clock.now = end + timedelta(seconds=PUBLISH_DELAY_S + PUBLISH_JITTER_S)
    first = file_for(listed(sim, SCADA_DIR), end)
    clock.advance(60)
    second = file_for(listed(sim, SCADA_DIR), end)
    seq = int(NAME.fullmatch(first).group(3))  # type: ignore[union-attr]
    assert int(NAME.fullmatch(second).group(3)) == seq + 1  # type: ignore[union-attr]
    assert first not in listed(sim, SCADA_DIR)
    assert requests.get(sim.root_url + SCADA_DIR + first).status_code == 404
    clock.advance(-60)
    old = mms.unit_scada(tables(sim, SCADA_DIR + first)[("DISPATCH", "UNIT_SCADA")])
    clock.advance(60)
    new = mms.unit_scada(tables(sim, SCADA_DIR + second)[("DISPATCH", "UNIT_SCADA")])
    assert [r.duid for r in old] == [r.duid for r in new]
    differ = [
        (a.power_mw, b.power_mw) for a, b in zip(old, new, strict=True) if a.power_mw != b.power_mw
    ]
    assert differ and all(abs(a - b) < 1 for a, b in differ)
    truth = sim.dataset.unit_power_array(new[0].duid, [int(end.timestamp())])[0]
    assert new[0].power_mw == truth  # the replacement is right


def test_403_answers_the_next_requests_like_nemweb_firewall() -> None:
    with nemweb_simulator(HandClock(NOW), nemweb_faults=["403:2"]) as sim:
        oe(sim, "/me")  # the OE face is not blocked and takes no 403
        for _ in range(2):
            resp = requests.get(sim.root_url + "/Reports/Current/", timeout=30)
            assert resp.status_code == 403
            assert resp.headers["Content-Type"].startswith("text/html")
            assert "Forbidden" in resp.text
        assert requests.get(sim.root_url + "/Reports/Current/", timeout=30).status_code == 200


def test_a_truncated_download_fails_to_parse_and_the_next_one_is_whole(
    clock: HandClock, sim: SimulatorHandle
) -> None:
    arm(sim, "truncated", 1)
    name = listed(sim, SCADA_DIR)[-1]  # an index does not take the fault
    cut = requests.get(sim.root_url + SCADA_DIR + name, timeout=30)
    with pytest.raises(mms.MmsError):
        csv_text(cut.content)
    assert csv_text(requests.get(sim.root_url + SCADA_DIR + name, timeout=30).content)


def test_faults_are_shown_and_cleared() -> None:
    with nemweb_simulator(HandClock(NOW), nemweb_faults=["missing:2", "late:1:60"]) as sim:
        state = requests.get(sim.root_url + "/__sim__/nemweb", timeout=30).json()
        assert [f["kind"] for f in state["faults"]] == ["missing", "missing", "late"]
        arm(sim, "403", 3)
        state = requests.delete(sim.root_url + "/__sim__/nemweb/faults", timeout=30).json()
        assert state["faults"] == [] and state["transport_faults"] == []
        assert requests.get(sim.root_url + "/Reports/", timeout=30).status_code == 200
        bad = requests.post(sim.root_url + "/__sim__/nemweb/faults", params={"kind": "bogus"})
        assert bad.status_code == 400


@pytest.mark.parametrize("spec", ["bogus", "late:x", "missing:0", "late:1:soon"])
def test_bad_fault_specs_are_refused(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError):
        parse_nemweb_fault(spec)
    assert oesim_main(["--dataset", "small", "--nemweb-fault", spec]) == 2
    assert "NEMweb fault" in capsys.readouterr().err


# --- as a process ---------------------------------------------------------------------------


@pytest.mark.integration
def test_python_m_oesim_live_publishes_a_file_every_5_seconds_at_60x() -> None:
    """``python -m oesim --live`` prints its one line as before; at 60x a new SCADA file
    appears about every 5 wall seconds, and a ``--nemweb-fault missing`` interval never."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "oesim", "--dataset", "nem", "--seed", "2025", "--live",
         "--clock-speed", "60", "--clock-start", "2025-10-03T12:17:30",
         "--nemweb-fault", "missing:1"],
        cwd=ROOT, env=clean_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"OE simulator listening on http://127\.0\.0\.1:\d+/v4", line)
        root = line.rsplit(" ", 1)[1].removesuffix("/v4")
        gone = datetime.fromisoformat(
            requests.get(root + "/__sim__/nemweb", timeout=30).json()["faults"][0]["interval_end"]
        )
        # The whole listing each time: a read delayed on a loaded machine misses nothing.
        listed: list[datetime] = []
        deadline = time.monotonic() + 90
        while not listed or listed[-1] <= gone + timedelta(minutes=5):
            assert time.monotonic() < deadline, listed[-3:]
            resp = requests.get(root + SCADA_DIR, timeout=30)
            listed = sorted(stamp_of(h.rsplit("/", 1)[1]) for h in hrefs(resp.text)[1:])
            time.sleep(1)
        assert gone not in listed
        assert gone - timedelta(minutes=5) in listed and gone + timedelta(minutes=5) in listed
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    "name",
    [
        "PUBLIC_DISPATCHSCADA_202513991299_0000000486918872.zip",  # no such time
        "PUBLIC_DISPATCHSCADA_202510031215_0000000000000001.zip",  # no such id
        "PUBLIC_DISPATCHIS_202510031215_0000000486918876.zip",  # another directory's
        "nothing.zip",
    ],
)
def test_a_name_current_does_not_hold_is_a_404(sim: SimulatorHandle, name: str) -> None:
    resp = requests.get(sim.root_url + SCADA_DIR + name, timeout=30)
    assert resp.status_code == 404 and resp.headers["Content-Type"] == "text/html"
