"""NEMweb as a source, the pure part: file names, indexes, report contents, the roll-up of
loads and batteries, emissions, coverage, gaps, the fill plan and the publish delay."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from nemlive.common.nemtime import NEM_TZ
from nemlive.extract import livecache, mms, nemweb, rollup
from nemlive.extract.nemweb import ReportFile
from tests.conftest import shared_aemo_dir, shared_oe_dir
from tests.support_nemweb import (
    CDEII_TEXT,
    FACTORS,
    T0,
    dispatchis_csv,
    file_name,
    iis_index,
    lookup,
    price_at,
    report_zip,
    scada_at,
    scada_csv,
    zipped,
)

T = int(datetime(2025, 10, 7, 12, 5, tzinfo=NEM_TZ).timestamp())


# --- names and indexes -----------------------------------------------------------------------


def test_file_names_parse_to_report_interval_end_and_sequence() -> None:
    f = nemweb.parse_file_name("PUBLIC_DISPATCHSCADA_202510071205_0000000487654321.zip")
    assert f == ReportFile(
        "DISPATCHSCADA", T, 487654321, "PUBLIC_DISPATCHSCADA_202510071205_0000000487654321.zip"
    )
    lower = nemweb.parse_file_name(
        "/Reports/Current/x/public_dispatchis_202510071205_0000000000000002.ZIP"
    )
    assert lower is not None and lower.report == "DISPATCHIS" and lower.sequence == 2
    for junk in (
        "PUBLIC_DISPATCHSCADA_202510071205_0000000487654321.zip.tmp",
        "PUBLIC_DISPATCHSCADA_202513071205_0000000487654321.zip",  # month 13
        "PUBLIC_DISPATCHSCADA_202510071203_0000000487654321.zip",  # not on the grid
        "PUBLIC_DISPATCHSCADA_202510071205_487654321.zip",
        "PUBLIC_TRADINGIS_202510071205_0000000487654321.zip",
        "",
    ):
        assert nemweb.parse_file_name(junk) is None


def test_report_files_sort_by_interval_then_sequence() -> None:
    a = ReportFile("DISPATCHIS", T, 2, "b")
    b = ReportFile("DISPATCHIS", T, 1, "a")
    c = ReportFile("DISPATCHIS", T - 300, 9, "c")
    assert sorted([a, b, c]) == [c, b, a]


def test_an_iis_index_gives_its_file_names_once_in_page_order() -> None:
    names = [file_name("DISPATCHSCADA", T0 + 300 * i, 1) for i in range(3)]
    page = iis_index("/Reports/Current/Dispatch_SCADA/", [*names, names[0]])
    assert nemweb.parse_index(page) == names


def test_index_parsing_copes_with_case_quotes_and_junk() -> None:
    page = (
        "<PRE><a href='/R/A.zip'>A</a> <A HREF=/R/B.zip>B</A> <a  Href = \"C%20D.zip?x=1#f\">c</a>"
        '<a href="/Reports/">up</a><a href="">empty</a><a name="x">no href</a>'
        '<a href="/R/E&amp;F.csv">e</a> <a href="..\\evil.zip">z</a> garbage <a href='
    )
    assert nemweb.parse_index(page) == ["A.zip", "B.zip", "C D.zip", "E&F.csv"]
    assert nemweb.parse_index("") == []
    assert nemweb.parse_index("\x00\xff not html at all") == []


def test_newest_per_interval_keeps_the_highest_sequence() -> None:
    files = [ReportFile("DISPATCHSCADA", T, s, f"n{s}") for s in (3, 7, 5)]
    files.append(ReportFile("DISPATCHSCADA", T + 300, 1, "m"))
    newest = nemweb.newest_per_interval(files)
    assert newest[T].sequence == 7 and newest[T + 300].name == "m"


def test_archive_names_and_day_boundaries() -> None:
    assert (
        nemweb.archive_name("DISPATCHSCADA", date(2025, 10, 7))
        == "PUBLIC_DISPATCHSCADA_20251007.zip"
    )
    assert nemweb.archive_dir("DISPATCHIS") == "/Reports/Archive/DispatchIS_Reports/"
    midnight = int(datetime(2025, 10, 8, tzinfo=NEM_TZ).timestamp())
    assert nemweb.nem_day(midnight) == date(2025, 10, 7)  # 00:00 ends the 7th
    assert nemweb.nem_day(midnight + 300) == date(2025, 10, 8)
    day = nemweb.day_intervals(date(2025, 10, 7))
    assert len(day) == 288 and day[-1] == midnight


def test_the_newest_cdeii_file_is_picked_by_its_stamp() -> None:
    names = [
        "CO2EII_AVAILABLE_GENERATORS_2017_43_20171103104827.CSV",
        "CO2EII_AVAILABLE_GENERATORS_2018_01_20180105000000.CSV",
        "CO2EII_SUMMARY_RESULTS_2018.CSV",
        "co2eii_available_generators.csv",
    ]
    assert nemweb.newest_cdeii(names) == "CO2EII_AVAILABLE_GENERATORS_2018_01_20180105000000.CSV"
    assert nemweb.newest_cdeii(["README.txt"]) is None


# --- report contents -------------------------------------------------------------------------


def test_scada_reads_mw_per_duid_per_interval() -> None:
    tables = mms.parse_mms(scada_csv(T, {"A1": 10.5, "B1": -3.0}))
    assert nemweb.read_scada(tables) == {T: {"A1": 10.5, "B1": -3.0}}
    assert nemweb.read_scada({}) == {}


def test_dispatchis_reads_price_demand_and_flows_from_mwflow() -> None:
    market = nemweb.read_dispatchis(mms.parse_mms(dispatchis_csv(T, price_at(T))))
    m = market[T]
    assert m.price == price_at(T)
    assert m.demand["SA1"] == 1000 + price_at(T)["SA1"]
    # MWFLOW (not METEREDMWFLOW = MWFLOW + 7): V-SA 100 VIC->SA, VIC1-NSW1 300, T-V 50 TAS->VIC.
    assert m.flows["SA1"] == (100.0, 0.0)
    assert m.flows["TAS1"] == (0.0, 50.0)
    assert m.flows["VIC1"] == (50.0, 400.0)
    assert m.flows["QLD1"] == (0.0, 200.0)  # NSW1-QLD1 at -200 runs QLD -> NSW


def test_an_unknown_interconnector_does_not_cost_the_prices() -> None:
    text = dispatchis_csv(T, {"NSW1": 1.0}).replace("T-V-MNSP1", "NEW-LINK1")
    m = nemweb.read_dispatchis(mms.parse_mms(text))[T]
    assert m.price == {"NSW1": 1.0} and "TAS1" not in m.flows


def test_a_zip_of_zips_reads_every_interval_and_a_later_sequence_wins() -> None:
    inner = {
        file_name("DISPATCHSCADA", T0 + 300 * i, 1): report_zip("DISPATCHSCADA", T0 + 300 * i)
        for i in (1, 2)
    }
    inner[file_name("DISPATCHSCADA", T0 + 600, 2)] = report_zip("DISPATCHSCADA", T0 + 600, 2)
    archive = zipped(inner)
    scada = nemweb.read_scada_zip(archive)
    assert sorted(scada) == [T0 + 300, T0 + 600]
    assert scada[T0 + 600]["COAL1"] == scada_at(T0 + 600, 2)["COAL1"]
    assert nemweb.member_files(archive) == sorted(inner)
    market = nemweb.read_dispatchis_zip(report_zip("DISPATCHIS", T0 + 300))
    assert market[T0 + 300].price == price_at(T0 + 300)


def test_a_truncated_report_is_an_error_not_half_a_file() -> None:
    text = scada_csv(T, {"A1": 1.0})
    cut = text[: text.index("END OF REPORT") - 3]
    with pytest.raises(mms.MmsError):
        nemweb.read_scada_zip(zipped({"x.CSV": cut.encode()}))


# --- the roll-up of NEMweb series ------------------------------------------------------------


def _table(scada: dict[int, dict[str, float]], factors: dict[str, float]) -> rollup.WideTable:
    series = nemweb.unit_series(scada) + nemweb.emission_series(scada, factors)
    times = sorted(scada)
    window = (livecache.to_naive(times[0]), livecache.to_naive(times[-1] + 300))
    return rollup.build_wide_table(lookup(), series, [], window, rows="any")


def _cell(table: rollup.WideTable, column: str, row: int = 0) -> float:
    return float(table.values[row, table.header.index(column) - 1])


def test_batteries_count_once_and_loads_are_netted_like_oe() -> None:
    charging = {"BATT1": -40.0, "BATTL1": 40.0, "BATTG1": 0.0, "SPLITG1": 0.0, "SPLITL1": 25.0}
    pumping = {"PUMPH1": 0.0, "PUMPHP1": 150.0, "COAL1": 300.0, "COAL2": 200.0, "GAS1": 10.0}
    table = _table({T: {**charging, **pumping}}, FACTORS)
    assert _cell(table, "power_BATT") == -40.0  # the signed unit alone, split units skipped
    assert _cell(table, "power_SPLIT") == -25.0  # discharging minus charging
    assert _cell(table, "power_PUMPH") == -150.0  # the pump's load netted off
    assert _cell(table, "power_COAL") == 500.0
    assert table.unknown_units == ()


def test_emissions_are_mw_times_factor_over_twelve_never_negative() -> None:
    scada = {T: {"COAL1": 120.0, "COAL2": -6.0, "GAS1": 60.0, "WIND1": 80.0}}
    series = {s.code: s for s in nemweb.emission_series(scada, FACTORS)}
    assert float(series["COAL1"].values[0]) == pytest.approx(120 * 0.9 / 12)
    assert float(series["COAL2"].values[0]) == 0.0  # auxiliary load: no negative emissions
    assert "GAS1" not in series  # no factor: no series, an empty cell
    table = _table(scada, FACTORS)
    assert _cell(table, "emissions_COAL") == pytest.approx(9.0)
    assert np.isnan(_cell(table, "emissions_GAS"))
    assert _cell(table, "emissions_WIND") == 0.0


def test_loads_emit_nothing_whatever_factor_is_listed() -> None:
    listed = {"PUMPHP1": 0.5, "SPLITL1": 0.5, "BATT1": 0.0, "COAL1": 0.9}
    assert nemweb.generator_factors(lookup(), listed) == {"BATT1": 0.0, "COAL1": 0.9}


def test_market_series_use_the_api_metric_names() -> None:
    market = nemweb.read_dispatchis(mms.parse_mms(dispatchis_csv(T, price_at(T))))
    series = nemweb.market_series(market)
    assert {s.metric for s in series} == {"price", "demand", "flow_imports", "flow_exports"}
    window = (livecache.to_naive(T), livecache.to_naive(T + 300))
    table = rollup.build_wide_table(lookup(), [], series, window, rows="any")
    assert _cell(table, "price_SA1") == price_at(T)["SA1"]
    assert _cell(table, "imports_SA1") == 100.0 and _cell(table, "exports_VIC1") == 400.0


def test_unit_series_hold_every_interval_in_order() -> None:
    scada = {T + 300: {"A": 2.0}, T: {"A": 1.0, "B": 5.0}}
    series = {s.code: s for s in nemweb.unit_series(scada)}
    assert series["A"].times.tolist() == [T, T + 300] and series["A"].values.tolist() == [1.0, 2.0]
    assert series["B"].times.tolist() == [T]


# --- coverage --------------------------------------------------------------------------------


def test_coverage_names_generating_facilities_without_a_factor() -> None:
    scada = {T - 300: {"GAS1": 500.0}, T: scada_at(T)}
    coverage = nemweb.emission_coverage(lookup(), FACTORS, scada)
    assert coverage.facilities == ("GAS",)  # wind, hydro, batteries need none
    generating = sum(
        v
        for k, v in scada_at(T).items()
        if k in {"COAL1", "COAL2", "BATT1", "PUMPH1", "WIND1", "GAS1", "SPLITG1"} and v > 0
    )
    assert coverage.generation_mw == pytest.approx(generating)
    assert coverage.share == pytest.approx(60.0 / generating)
    assert coverage.describe().startswith("1 facilities with generation have no CDEII factor (")
    assert coverage.describe().endswith(": GAS")
    idle = nemweb.emission_coverage(lookup(), FACTORS, {T: {"GAS1": 0.0}})
    assert idle.facilities == () and idle.share == 0.0
    assert nemweb.emission_coverage(lookup(), {}, {}).facilities == ()


def test_cdeii_factors_per_duid() -> None:
    assert nemweb.read_cdeii(CDEII_TEXT) == FACTORS


# --- gaps, fill, delay, schedule ---------------------------------------------------------------


def test_missing_intervals_between_floor_and_newest() -> None:
    held = [T, T + 600]
    assert nemweb.missing_intervals(held, T, T + 900) == [T + 300, T + 900]
    assert nemweb.missing_intervals(held, T + 1, T + 600) == [T + 300]  # floor rounds up
    assert nemweb.missing_intervals([], T + 300, T) == []


def test_the_fill_takes_current_first_and_archive_only_for_what_current_lost() -> None:
    day = date(2025, 10, 7)
    first = nemweb.day_intervals(day)[0]
    missing = [first, first + 300, T, T + 300]
    plan = nemweb.plan_fill(missing, current_oldest=T)
    assert plan.current == (T, T + 300) and plan.archive_days == (day,)
    assert nemweb.plan_fill(missing, T, fetched_days={day}).archive_days == ()
    assert nemweb.plan_fill(missing, None).archive_days == ()
    assert nemweb.plan_fill(missing, None).current == tuple(sorted(missing))
    two_days = nemweb.plan_fill([first - 300, first], current_oldest=T)
    assert two_days.archive_days == (date(2025, 10, 6), day)


def test_the_learned_delay_is_a_high_percentile_plus_a_margin_clamped() -> None:
    assert nemweb.learn_delay([]) == 75.0
    assert nemweb.learn_delay([60, 61], default=90.0) == 90.0
    assert nemweb.learn_delay([60.0] * 10) == pytest.approx(70.0)
    assert nemweb.learn_delay([60.0] * 9 + [200.0]) > 70.0
    assert nemweb.learn_delay([0.0] * 5) == 10.0
    assert nemweb.learn_delay([900.0] * 5) == 300.0
    assert nemweb.learn_delay([60.0, float("nan"), -5.0, 60.0, 60.0]) == pytest.approx(70.0)


def test_the_schedule_waits_for_the_next_file_and_rereads_a_late_one() -> None:
    delay = 70.0
    now = T + 80.0  # interval T is expected since T + 70
    assert nemweb.expected_interval(now, delay) == T
    assert nemweb.next_poll_at(now, delay, expected_missing=False) == T + 300 + delay
    assert nemweb.next_poll_at(now, delay, expected_missing=True) == now + 20.0
    # 110 s late: give up, the next interval's time.
    assert nemweb.next_poll_at(T + 175.0, delay, expected_missing=True) == T + 300 + delay
    # A re-read never spaced under 10 s.
    assert nemweb.next_poll_at(now, delay, True, retry_every=1.0) == now + 10.0


# --- real files, read at run time ------------------------------------------------------------


def test_the_real_cdeii_file_gives_factors() -> None:
    folder = shared_aemo_dir()
    found = sorted(Path(folder).glob("CO2EII_AVAILABLE_GENERATORS*.CSV"))
    if not found:
        pytest.skip("no CDEII file in shared/aemo")
    factors = nemweb.read_cdeii(found[0].read_bytes().decode("latin-1"))
    assert len(factors) > 100 and all(0 <= f < 2 for f in factors.values())
    assert nemweb.newest_cdeii([p.name for p in found]) == found[-1].name


def test_the_real_cdeii_factors_cover_the_real_fossil_fleet() -> None:
    """OE's real facility list (its unit codes are DUIDs) against AEMO's real CDEII file: every
    coal unit has a factor, and most gas units; the coverage line names what is left out."""
    cdeii = sorted(shared_aemo_dir().glob("CO2EII_AVAILABLE_GENERATORS*.CSV"))
    if not cdeii:
        pytest.skip("no CDEII file in shared/aemo")
    factors = nemweb.read_cdeii(cdeii[0].read_bytes().decode("latin-1"))
    payload = json.loads((shared_oe_dir() / "facilities.json").read_text(encoding="utf-8"))
    lookup = rollup.build_lookup(payload, "NEM", None)

    def fossil(fueltech: str) -> list[rollup.FacilityInfo]:
        return [
            f
            for f in lookup.facilities
            if any(u.fueltech_id.startswith(fueltech) for u in f.operating_units)
        ]

    def covered(f: rollup.FacilityInfo) -> bool:
        units = [u for u in f.operating_units if u.fueltech_id.startswith(("coal", "gas"))]
        return all(u.code in factors for u in units)

    coal, gas = fossil("coal"), fossil("gas")
    assert len(coal) >= 10 and all(covered(f) for f in coal)
    assert len(gas) >= 40 and sum(map(covered, gas)) >= 0.8 * len(gas)
    # Each operating unit at 100 MW: the uncovered facilities and their share are named.
    scada = {0: {u.code: 100.0 for f in lookup.facilities for u in f.operating_units}}
    coverage = nemweb.emission_coverage(lookup, factors, scada)
    missing = {f.facility_id for f in gas if not covered(f)}
    assert missing <= set(coverage.facilities)
    assert 0 < coverage.share < 0.2
    assert coverage.describe().startswith(f"{len(coverage.facilities)} facilities with generation")


def test_keep_intervals_drops_what_a_file_should_not_hold() -> None:
    rows = {T0: 1, T0 + 60: 2, T0 + 300: 3}
    assert nemweb.keep_intervals(rows, {T0}) == ({T0: 1}, [T0 + 60, T0 + 300])


def test_a_gap_search_or_plan_over_forty_days_is_refused() -> None:
    far = T0 + 41 * 86_400
    with pytest.raises(ValueError, match="41 days"):
        nemweb.missing_intervals([], T0, far)
    with pytest.raises(ValueError, match="41 days"):
        nemweb.plan_fill([T0, far], T0)
    assert nemweb.latest_believed(T0 + 75, 75.0) == T0 + 600
