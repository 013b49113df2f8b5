"""The nem dataset's series: physics sanity on one generated week, and determinism."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pytest

from nemlive.common.nemtime import NEM_TZ
from oesim.nem import NemDataset
from oesim.nem_catalogue import FACILITIES
from oesim.nem_demand import UNDERLYING_MW
from oesim.nem_series import (
    MARKET_CAP,
    MARKET_FLOOR,
    hash_uniform,
    nem_hour,
    smooth_noise,
    stable_key,
    sun_sin_elevation,
)

START = datetime(2025, 10, 12, tzinfo=NEM_TZ)  # a fixed spring week, interval-ending stamps
T = int(START.timestamp()) + 300 * np.arange(1, 7 * 288 + 1, dtype=np.int64)
HOUR = nem_hour(T)
REGIONS = ("NSW1", "QLD1", "SA1", "TAS1", "VIC1")
UNITS = {u.code: (f, u) for f in FACILITIES for u in f.units}


@dataclass
class Week:
    power: dict[str, np.ndarray]
    demand: dict[str, np.ndarray]
    price: dict[str, np.ndarray]


def _generate(seed: int, t: np.ndarray = T) -> Week:
    ds = NemDataset(seed=seed)
    return Week(
        power={code: ds.unit_power_array(code, t) for code in UNITS},
        demand={r: ds.region_market_array(r, "demand", t) for r in REGIONS},
        price={r: ds.region_market_array(r, "price", t) for r in REGIONS},
    )


@pytest.fixture(scope="module")
def week() -> Week:
    return _generate(0)


def _operating(fueltech: str | None = None) -> list[str]:
    return [
        code
        for code, (_, u) in UNITS.items()
        if u.status == "operating" and (fueltech is None or u.fueltech_id == fueltech)
    ]


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


# --- primitives ---------------------------------------------------------------------------


def test_hash_uniform_is_uniform_and_keyed() -> None:
    idx = np.arange(100_000)
    u = hash_uniform(stable_key(0, "x"), idx)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01
    assert not np.array_equal(u, hash_uniform(stable_key(1, "x"), idx))


def test_smooth_noise_is_continuous_and_bounded() -> None:
    n = smooth_noise(stable_key(0, "n"), T.astype(float), 3600)
    assert n.min() >= -1 and n.max() <= 1
    assert np.abs(np.diff(n)).max() < 0.5  # 5 minutes apart on a 1-hour grid


@pytest.mark.parametrize(
    ("when", "lat", "lon", "expected_deg"),
    [
        ("2025-12-21T12:00:00+00:00", -23.44, 0.0, 90.0),  # summer solstice, tropic, noon
        ("2025-03-20T12:07:00+00:00", 0.0, 0.0, 90.0),  # equinox, equator, solar noon
        ("2025-06-21T02:00:00+00:00", -33.87, 151.21, 32.7),  # Sydney, midwinter noon
        ("2025-06-21T14:00:00+00:00", -33.87, 151.21, -79.0),  # Sydney, midwinter midnight
    ],
)
def test_sun_elevation(when: str, lat: float, lon: float, expected_deg: float) -> None:
    t = np.array([datetime.fromisoformat(when).timestamp()])
    got = np.degrees(np.arcsin(sun_sin_elevation(t, lat, lon)[0]))
    assert got == pytest.approx(expected_deg, abs=1.5)


# --- physics ------------------------------------------------------------------------------


def test_no_unit_above_capacity_and_signs_follow_oe(week: Week) -> None:
    for code, (_, u) in UNITS.items():
        v = week.power[code][~np.isnan(week.power[code])]
        assert np.all(np.abs(v) <= u.capacity_mw), code
        if u.fueltech_id == "pumps":
            assert np.all(v >= 0), code  # load, a non-negative magnitude
        elif u.fueltech_id != "battery":
            assert np.all(v >= 0), code


def test_emitting_units_never_go_negative(week: Week) -> None:
    # The server computes emissions = MW/12 × factor; nothing we emit may make that negative.
    for code, (_, u) in UNITS.items():
        if u.emissions_factor is not None:
            assert np.nanmin(week.power[code], initial=0.0) >= 0, code


def test_facility_totals_stay_within_capacity(week: Week) -> None:
    for fac in FACILITIES:
        units = [
            u for u in fac.units if u.fueltech_id not in ("battery_charging", "battery_discharging")
        ]
        # Pumps are a load magnitude: the facility's net output subtracts them.
        total = sum(
            (-1 if u.fueltech_id == "pumps" else 1) * np.nan_to_num(week.power[u.code])
            for u in units
        )
        assert np.all(total <= sum(u.capacity_mw for u in units if u.fueltech_id != "pumps")), (
            fac.code
        )


def test_solar_is_dark_at_night_and_bright_at_noon(week: Week) -> None:
    for code in _operating("solar_utility"):
        fac, u = UNITS[code]
        v = week.power[code]
        night = sun_sin_elevation(T.astype(float), fac.lat, fac.lon) <= 0
        assert np.all(np.nan_to_num(v[night]) == 0), code
        assert np.all(np.nan_to_num(v[(HOUR < 4) | (HOUR >= 21)]) == 0), code
        assert np.nanmax(v) > 0.5 * u.capacity_mw, code


def test_solar_follows_longitude(week: Week) -> None:
    # Broken Hill (141°E) wakes up later than Moree (150°E) in NEM time.
    def first_light(code: str) -> float:
        day = week.power[code][:288]
        return float(HOUR[:288][np.argmax(np.nan_to_num(day) > 0)])

    assert first_light("BROKENH1") > first_light("MOREESF1") + 0.3


def test_batteries_charge_at_midday_and_discharge_in_the_evening(week: Week) -> None:
    midday, evening = (HOUR >= 11) & (HOUR < 14), (HOUR >= 17.5) & (HOUR < 20)
    for code in _operating("battery"):
        v = week.power[code]
        assert np.nanmean(v[midday]) < 0 < np.nanmean(v[evening]), code


def test_split_battery_units_match_the_bidirectional_unit(week: Week) -> None:
    checked = 0
    for fac in FACILITIES:
        by_tech = {u.fueltech_id: u.code for u in fac.units}
        if "battery_charging" not in by_tech:
            continue
        p = week.power[by_tech["battery"]]
        # Each split unit has points only while flowing its own way (as OE serves them).
        assert _equal(
            week.power[by_tech["battery_discharging"]],
            np.where(np.isnan(p) | (p < 0), np.nan, p),
        )
        assert _equal(
            week.power[by_tech["battery_charging"]],
            np.where(np.isnan(p) | (p >= 0), np.nan, -p),
        )
        checked += 1
    assert checked >= 3


def test_coal_runs_high_with_an_occasional_trip(week: Week) -> None:
    coal = _operating("coal_black") + _operating("coal_brown")

    def factors(fueltech: str) -> list[float]:
        return [np.nanmean(week.power[c]) / UNITS[c][1].capacity_mw for c in _operating(fueltech)]

    # Both back down to minimum load under the midday sun, brown coal less far.
    assert np.median(factors("coal_brown")) > 0.65
    assert 0.4 < np.median(factors("coal_black")) < 0.8
    assert np.median(factors("coal_brown")) > np.median(factors("coal_black"))
    tripped = [c for c in coal if np.nanmin(week.power[c]) == 0]
    assert 1 <= len(tripped) <= len(coal) // 2


def test_generation_meets_demand_and_storage(week: Week) -> None:
    # The market clears each interval: generators (batteries net of charging) less pumping
    # equal operational demand across the NEM, interchange cancelling out.
    net = sum(
        np.nan_to_num(week.power[c]) * (-1 if UNITS[c][1].fueltech_id == "pumps" else 1)
        for c in _operating()
        if UNITS[c][1].fueltech_id not in ("battery_charging", "battery_discharging")
    )
    ratio = net / sum(week.demand.values())
    assert 0.99 < np.median(ratio) < 1.01
    assert np.mean(np.abs(ratio - 1) < 0.03) > 0.97  # data gaps and rare shortfalls aside


def test_gas_peakers_run_at_the_peaks(week: Week) -> None:
    total = sum(np.nan_to_num(week.power[c]) for c in _operating("gas_ocgt"))
    morning_evening = (HOUR >= 6.5) & (HOUR < 9) | (HOUR >= 17) & (HOUR < 21)
    night = (HOUR >= 0) & (HOUR < 4.5)
    assert total[morning_evening].mean() > 3 * total[night].mean()
    assert total.max() > 0


def test_hydro_follows_the_evening_peak(week: Week) -> None:
    total = sum(np.nan_to_num(week.power[c]) for c in _operating("hydro"))
    assert total[(HOUR >= 17.5) & (HOUR < 20)].mean() > 1.5 * total[(HOUR >= 1) & (HOUR < 5)].mean()


def test_pumps_are_load_when_prices_are_low(week: Week) -> None:
    for code in _operating("pumps"):
        v = week.power[code]
        assert np.nanmax(v) > 0, code
        assert np.nanmean(v[(HOUR >= 17.5) & (HOUR < 20)]) < np.nanmean(
            v[(HOUR >= 11) & (HOUR < 14)]
        )


def test_nearby_wind_farms_move_together(week: Week) -> None:
    def corr(a: str, b: str) -> float:
        x, y = week.power[a], week.power[b]
        ok = ~np.isnan(x) & ~np.isnan(y)
        return float(np.corrcoef(x[ok], y[ok])[0, 1])

    same_region = corr("HDWF1", "SNOWTWN1")  # SA, 70 km apart
    far_apart = corr("HDWF1", "COOPGWF1")  # SA vs QLD
    assert same_region > 0.4
    assert same_region > far_apart + 0.2


@pytest.mark.parametrize("region", REGIONS)
def test_demand_in_range_with_daily_and_weekly_shape(week: Week, region: str) -> None:
    d = week.demand[region]
    assert not np.isnan(d).any()
    # Operational demand: rooftop PV can take a small region below zero, never far.
    assert -0.4 * UNDERLYING_MW[region] < d.min() and d.max() < 1.6 * UNDERLYING_MW[region]
    assert d[(HOUR >= 17.5) & (HOUR < 20)].mean() > 1.15 * d[(HOUR >= 2) & (HOUR < 5)].mean()
    weekday = ((T + 36_000) // 86_400 + 3) % 7
    assert d[weekday >= 5].mean() < d[weekday < 5].mean()


@pytest.mark.parametrize("region", REGIONS)
def test_price_within_market_limits_with_an_evening_peak(week: Week, region: str) -> None:
    p = week.price[region]
    assert not np.isnan(p).any()
    assert p.min() >= MARKET_FLOOR and p.max() <= MARKET_CAP <= 20_000
    assert np.median(p[(HOUR >= 17.5) & (HOUR < 20)]) > np.median(p[(HOUR >= 11) & (HOUR < 14)])


def test_sa_and_vic_prices_go_negative_at_midday(week: Week) -> None:
    midday = (HOUR > 10) & (HOUR <= 15)
    for region in ("SA1", "VIC1"):
        p = week.price[region]
        negative = p < 0
        # Mostly while the sun is up (a windy night can also go below zero, and with spring
        # 2025's surplus the price is below zero from soon after sunrise to near sunset)...
        assert np.mean((HOUR[negative] >= 7) & (HOUR[negative] <= 18)) > 0.8, region
        # ...and on most days: a midday below zero is the southern regions' normal.
        days = (p[midday] < 0).reshape(7, -1).any(axis=1)
        assert days.sum() >= 4, region


@pytest.mark.slow
def test_price_spikes_are_rare_but_happen() -> None:
    spikes = total = 0
    for seed in range(3):
        w = _generate(seed)
        for p in w.price.values():
            spikes += int((p > 1_000).sum())
            total += p.size
    assert 0 < spikes / total < 0.01


def test_gaps_are_rare_and_interior(week: Week) -> None:
    # Split battery units have no data while idle by design: not gaps.
    split = ("battery_charging", "battery_discharging")
    operating = [c for c in _operating() if UNITS[c][1].fueltech_id not in split]
    gaps = [np.flatnonzero(np.isnan(week.power[c])) for c in operating]
    assert 0 < sum(len(g) for g in gaps) < 0.005 * len(operating) * len(T)
    for g in gaps:
        assert np.all((HOUR[g] >= 2) & (HOUR[g] < 22.5))


def test_units_not_operating_have_no_data(week: Week) -> None:
    idle = [code for code, (_, u) in UNITS.items() if u.status != "operating"]
    assert idle
    for code in idle:
        assert np.isnan(week.power[code]).all(), code


# --- determinism --------------------------------------------------------------------------


def test_same_seed_twice_is_identical(week: Week) -> None:
    again = _generate(0)
    for code in UNITS:
        assert _equal(week.power[code], again.power[code]), code
    for r in REGIONS:
        assert _equal(week.demand[r], again.demand[r]) and _equal(week.price[r], again.price[r])


@pytest.mark.slow
def test_another_seed_differs(week: Week) -> None:
    other = _generate(1)
    assert not _equal(week.power["HDWF1"], other.power["HDWF1"])
    assert not _equal(week.price["SA1"], other.price["SA1"])


@pytest.mark.slow
def test_chunked_equals_whole(week: Week) -> None:
    ds = NemDataset(seed=0)
    cuts = [0, 1, 37, 288, 289, 1000, 1500, 2015, len(T)]
    for code in (
        "BW01",
        "HPR1",
        "HPRG1",
        "HPRL1",
        "SNOWYP",
        "NYNGAN1",
        "HDWF1",
        "URANQ11",
        "GORDONPS",
    ):
        if code not in UNITS:
            continue
        parts = [ds.unit_power_array(code, T[a:b]) for a, b in itertools.pairwise(cuts)]
        assert _equal(np.concatenate(parts), week.power[code]), code
    for r in REGIONS:
        for metric, whole in (("demand", week.demand[r]), ("price", week.price[r])):
            parts = [ds.region_market_array(r, metric, T[a:b]) for a, b in itertools.pairwise(cuts)]
            assert _equal(np.concatenate(parts), whole), (r, metric)


def test_datetime_protocol_matches_the_array_path(week: Week) -> None:
    ds = NemDataset(seed=0)
    times = [START + timedelta(minutes=5 * (i + 1)) for i in range(len(T))]
    for code in ("BW01", "HPR1", "NYNGAN1"):
        got = ds.unit_power(code, times)
        want = [None if np.isnan(v) else float(v) for v in week.power[code]]
        assert got == want
    assert ds.region_market("SA1", "price", times) == [float(v) for v in week.price["SA1"]]
    with pytest.raises(KeyError):
        ds.region_market("WEM", "price", times[:1])
    with pytest.raises(KeyError):
        ds.unit_power("NOPE", times[:1])


# --- the market: duck curve, merit order, interchange, coal --------------------------------

NEM_DAY = np.arange(len(T)) // 288


def _flows(metric: str, seed: int = 0, t: np.ndarray = T) -> dict[str, np.ndarray]:
    ds = NemDataset(seed=seed)
    return {r: ds.region_market_array(r, metric, t) for r in REGIONS}


def test_duck_curve_every_day(week: Week) -> None:
    nem = sum(week.demand.values())
    for day in range(7):
        today = np.equal(NEM_DAY, day)
        d, h = nem[today], HOUR[today]
        trough = d[(h > 10) & (h <= 15)].min()
        overnight = d[(h > 1) & (h <= 5)].mean()
        evening_peak = d[(h > 17) & (h <= 21)].max()
        assert trough < overnight and trough < 0.75 * evening_peak, day
        # The evening peak after sunset is the day's maximum.
        assert evening_peak == d.max(), day


def test_weekends_have_lower_underlying_demand() -> None:
    from oesim.nem_demand import underlying_demand

    weekend = ((T + 36_000) // 86_400 + 3) % 7 >= 5
    for r in REGIONS:
        u = underlying_demand(0, r, T.astype(float))
        assert u[weekend].mean() < 0.97 * u[~weekend].mean(), r


def test_evening_prices_above_midday_and_spikes_come_from_scarcity(week: Week) -> None:
    midday, evening = (HOUR > 10) & (HOUR <= 15), (HOUR > 17) & (HOUR <= 21)
    for r in REGIONS:
        p = week.price[r]
        assert p[evening].mean() > p[midday].mean() + 40, r
        assert np.all((p < 300) | (HOUR > 6)), r  # no spikes in the small hours


@pytest.mark.slow
def test_interchange_balances_and_respects_limits() -> None:
    from oesim.nem_market import LINKS

    imports, exports = _flows("flow_imports"), _flows("flow_exports")
    net = sum(imports[r] - exports[r] for r in REGIONS)
    assert np.abs(net).max() < 0.01  # every MW exported is imported somewhere, per interval
    for r in REGIONS:
        assert imports[r].min() >= 0 and exports[r].min() >= 0
        limit = sum(max(a, b) for c, p, a, b in LINKS if r in (c, p))
        assert imports[r].max() <= limit + 1e-6 and exports[r].max() <= limit + 1e-6
    # Tasmania has one link: what it imports and exports never both flow at once.
    assert np.all(np.minimum(imports["TAS1"], exports["TAS1"]) < 1e-6)
    assert (imports["SA1"] > 1).any() and (exports["SA1"] > 1).any()


def test_interchange_flows_from_cheap_to_dear_regions(week: Week) -> None:
    # Tasmania's only link is Basslink: when it imports, VIC is no dearer than TAS.
    imports = _flows("flow_imports")["TAS1"]
    importing = imports > 1
    assert importing.any()
    assert np.all(week.price["VIC1"][importing] <= week.price["TAS1"][importing] + 0.01)


def test_coal_sits_at_minimum_load_under_the_midday_sun(week: Week) -> None:
    from oesim.nem_market import COAL_MIN_LOAD

    midday, night = (HOUR > 11) & (HOUR <= 14), (HOUR > 1) & (HOUR <= 5)
    stops = 0
    for fueltech in ("coal_black", "coal_brown"):
        codes = _operating(fueltech)
        total = sum(np.nan_to_num(week.power[c]) for c in codes)
        assert total[midday].mean() < 0.9 * total[night].mean(), fueltech
        for c in codes:
            v = np.nan_to_num(week.power[c])
            cap = UNITS[c][1].capacity_mw
            running = v > 0.3 * cap
            if not running.any():
                continue  # out for the week (maintenance)
            # While running, never far below minimum load; it does not cycle off daily. The
            # minimum is a share of the MW available, which derating (about 0.86) and the
            # ramp back from a trip keep below nameplate.
            assert np.quantile(v[running], 0.02) > 0.7 * COAL_MIN_LOAD[fueltech] * cap, c
            raw = week.power[c]
            ok = ~np.isnan(raw)  # a data gap is not a stop
            stops += int(np.sum(np.diff((raw[ok] > 0).astype(int)) < 0))
    assert stops <= len(_operating("coal_black") + _operating("coal_brown")) // 3


def test_batteries_follow_prices(week: Week) -> None:
    for code in _operating("battery"):
        region = UNITS[code][0].region
        v, p = np.nan_to_num(week.power[code]), week.price[region]
        if (v > 0.5 * UNITS[code][1].capacity_mw).any():
            assert p[v > 0.5 * UNITS[code][1].capacity_mw].mean() > p[v < 0].mean(), code


@pytest.mark.slow
def test_stats_are_within_their_tolerance() -> None:
    from oesim import stats

    lines, ok = stats.report(stats.figures())
    assert ok, "\n".join(lines)
    got = stats.figures(seed=0, start=START.date())
    assert stats.TARGETS["share renewable"].holds(got["share renewable"])
    assert got["days with a duck curve"] == 7


@pytest.mark.integration
def test_stats_command_prints_the_table() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "oesim.stats"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "negative prices SA1" in proc.stdout and "OUT" not in proc.stdout


@pytest.mark.slow
def test_flows_are_deterministic_and_window_independent() -> None:
    whole = _flows("flow_imports")
    again = _flows("flow_imports")
    ds = NemDataset(seed=0)
    for r in REGIONS:
        assert _equal(whole[r], again[r])
        parts = [
            ds.region_market_array(r, "flow_imports", T[a:b]) for a, b in ((0, 700), (700, len(T)))
        ]
        assert _equal(np.concatenate(parts), whole[r])


def test_market_endpoint_serves_interchange_the_way_oe_names_it() -> None:
    import requests

    from oesim.server import DEMO_KEY
    from oesim.testing import run_simulator

    params = {
        "metrics": ["flow_imports", "flow_exports", "flow_imports_energy"],
        "interval": "5m",
        "date_start": "2025-10-12T00:00:00",
        "date_end": "2025-10-13T00:00:00",
        "primary_grouping": "network_region",
    }
    with run_simulator(dataset="nem", seed=0) as sim:
        resp = requests.get(
            sim.url + "/market/network/NEM",
            params=params,
            headers={"Authorization": f"Bearer {DEMO_KEY}"},
            timeout=30,
        )
    assert resp.status_code == 200, resp.text
    series = {r["name"]: r for block in resp.json()["data"] for r in block["results"]}
    assert {f"flow_imports_{r}" for r in REGIONS} <= set(series)
    ds = NemDataset(seed=0)
    got = [v for _, v in series["flow_imports_SA1"]["data"]][:288]
    want = ds.region_market_array("SA1", "flow_imports", T[:288] - 300)  # from 00:00
    assert np.allclose(got, want, atol=1e-3)
    energy = [v for _, v in series["flow_imports_energy_SA1"]["data"]][:288]
    assert np.allclose(energy, want / 12, atol=1e-3)
