"""The MMS CSV parser and the interconnector mapping: made-up samples in AEMO's layout, then the
real AEMO files read at run time from ../shared/aemo (never copied into the project)."""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from nemlive.common.errors import InputError
from nemlive.common.nemtime import NEM_TZ
from nemlive.extract import mms
from nemlive.extract.mms import InterconnectorFlow, MmsError

HEADER = "C,NEMP.WORLD,DISPATCHIS,AEMO,PUBLIC,2030/01/02,00:05:10,0000000001,DISPATCHIS,0000000002"


def report(*rows: str, end: int | None = None, eol: str = "\n") -> str:
    """A report with the header C row, ``rows`` and the END row counting every line."""
    lines = [HEADER, *rows]
    count = len(lines) + 1 if end is None else end
    return eol.join([*lines, f'C,"END OF REPORT",{count}']) + eol


SCADA = [
    "I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE,LASTCHANGED",
    'D,DISPATCH,UNIT_SCADA,1,"2030/01/02 00:05:00",UNITA1,101.5,"2030/01/02 00:00:31"',
    'D,DISPATCH,UNIT_SCADA,1,"2030/01/02 00:05:00",UNITB1,-3.25,"2030/01/02 00:00:31"',
]
# Extra columns, and the ones we need in another order than AEMO's; an intervention run.
PRICE = [
    "I,DISPATCH,PRICE,5,REGIONID,EXTRA,INTERVENTION,RRP,SETTLEMENTDATE",
    'D,DISPATCH,PRICE,5,NSW1,"a, ""quoted"" value",0,87.5,"2030/01/02 00:05:00"',
    'D,DISPATCH,PRICE,5,NSW1,x,1,999,"2030/01/02 00:05:00"',
    'D,DISPATCH,PRICE,5,SA1,x,0,-40,"2030/01/02 00:05:00"',
]
REGIONSUM = [
    "I,DISPATCH,REGIONSUM,8,SETTLEMENTDATE,RUNNO,REGIONID,INTERVENTION,TOTALDEMAND,NETINTERCHANGE",
    'D,DISPATCH,REGIONSUM,8,"2030/01/02 00:05:00",1,VIC1,0,5000.5,-120',
]
FLOWS = [
    "I,DISPATCH,INTERCONNECTORRES,3,SETTLEMENTDATE,INTERCONNECTORID,MWLOSSES,MWFLOW,METEREDMWFLOW",
    'D,DISPATCH,INTERCONNECTORRES,3,"2030/01/02 00:05:00",T-V-MNSP1,2,150,148',
    'D,DISPATCH,INTERCONNECTORRES,3,"2030/01/02 00:05:00",V-SA,1,-60,-55',
]
CDEII = [
    "I,CO2EII,PUBLISHING,1,STATIONNAME,DUID,GENSETID,REGIONID,CO2E_EMISSIONS_FACTOR",
    'D,CO2EII,PUBLISHING,1,"Made-up ""Two Unit"", Station",DUIDX,GEN1,NSW1,0.7',
    'D,CO2EII,PUBLISHING,1,"Made-up ""Two Unit"", Station",DUIDX,GEN2,NSW1,0.9',
    "D,CO2EII,PUBLISHING,1,Windy,DUIDY,DUIDY,SA1,0",
]
T0 = datetime(2030, 1, 2, 0, 5, tzinfo=NEM_TZ)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- the container ---------------------------------------------------------------------------


def test_several_tables_in_one_file_with_crlf_and_quoted_times() -> None:
    tables = mms.parse_mms(report(*SCADA, *PRICE, *REGIONSUM, eol="\r\n"))
    assert set(tables) == {
        ("DISPATCH", "UNIT_SCADA"),
        ("DISPATCH", "PRICE"),
        ("DISPATCH", "REGIONSUM"),
    }
    scada = mms.unit_scada(tables[("DISPATCH", "UNIT_SCADA")])
    assert scada == [mms.UnitScada(T0, "UNITA1", 101.5), mms.UnitScada(T0, "UNITB1", -3.25)]
    # CRLF must not leave a stray \r on the last column.
    assert tables[("DISPATCH", "UNIT_SCADA")][0]["LASTCHANGED"] == "2030/01/02 00:00:31"


def test_columns_are_found_by_name_and_quotes_unescaped() -> None:
    tables = mms.parse_mms(report(*PRICE))
    rows = tables[("DISPATCH", "PRICE")]
    assert rows[0]["EXTRA"] == 'a, "quoted" value'
    # The intervention run (INTERVENTION=1) does not set the price.
    assert mms.region_prices(rows) == [
        mms.RegionPrice(T0, "NSW1", 87.5),
        mms.RegionPrice(T0, "SA1", -40.0),
    ]


def test_region_demand_and_flows() -> None:
    tables = mms.parse_mms(report(*REGIONSUM, *FLOWS))
    assert mms.region_demand(tables[("DISPATCH", "REGIONSUM")]) == [
        mms.RegionDemand(T0, "VIC1", 5000.5, -120.0)
    ]
    flows = mms.interconnector_flows(tables[("DISPATCH", "INTERCONNECTORRES")])
    assert flows[0] == InterconnectorFlow(T0, "T-V-MNSP1", 148.0, 150.0, 2.0)


def test_emission_factors_per_genset_and_per_duid() -> None:
    factors = mms.emission_factors(mms.parse_mms(report(*CDEII))[("CO2EII", "PUBLISHING")])
    assert [(f.duid, f.genset_id, f.factor_t_per_mwh) for f in factors] == [
        ("DUIDX", "GEN1", 0.7),
        ("DUIDX", "GEN2", 0.9),
        ("DUIDY", "DUIDY", 0.0),
    ]
    per_duid = mms.duid_emission_factors(factors)
    assert per_duid == {"DUIDX": pytest.approx(0.8), "DUIDY": 0.0}


def test_the_end_of_report_count_includes_every_line() -> None:
    # HEADER + 3 SCADA rows + END = 5 lines: AEMO's count includes both C rows.
    assert mms.parse_mms(report(*SCADA, end=5))
    with pytest.raises(MmsError, match=r"^END OF REPORT says 4 lines but the file has 5$"):
        mms.parse_mms(report(*SCADA, end=4))


def test_a_truncated_file_is_refused_in_one_line() -> None:
    text = report(*SCADA).splitlines()
    cut = "\n".join(text[:-1]) + "\n"
    with pytest.raises(MmsError) as caught:
        mms.parse_mms(cut)
    assert "truncated" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, InputError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (['D,DISPATCH,PRICE,5,"2030/01/02 00:05:00",NSW1,1'], "before its I row"),
        ([SCADA[0], 'D,DISPATCH,UNIT_SCADA,1,"2030/01/02 00:05:00",UNITA1'], "has 2 values"),
        (["X,what"], "is not C, I or D"),
    ],
)
def test_malformed_rows_give_one_line(rows: list[str], message: str) -> None:
    with pytest.raises(MmsError, match=message):
        mms.parse_mms(report(*rows))


def test_a_missing_column_or_bad_number_names_it() -> None:
    rows = mms.parse_mms(report(*SCADA))[("DISPATCH", "UNIT_SCADA")]
    with pytest.raises(MmsError, match=r"^the table has no column REGIONID$"):
        mms.region_prices(rows)
    with pytest.raises(MmsError, match="SCADAVALUE 'n/a' is not a number"):
        mms.unit_scada([{**rows[0], "SCADAVALUE": "n/a"}])


def test_parse_nem_time() -> None:
    assert mms.parse_nem_time("2030/01/02 00:05:00") == T0
    assert mms.parse_nem_time("2030/01/02 00:05:00").utcoffset().total_seconds() == 36000
    with pytest.raises(MmsError, match="is not a NEM time"):
        mms.parse_nem_time("2030-01-02T00:05:00")


# --- zips ------------------------------------------------------------------------------------


def test_a_zip_and_a_zip_of_zips() -> None:
    csv_bytes = report(*SCADA, eol="\r\n").encode()
    inner = zipped({"PUBLIC_DISPATCHSCADA_203001020005.CSV": csv_bytes})
    assert mms.read_zip(inner) == {"PUBLIC_DISPATCHSCADA_203001020005.CSV": csv_bytes.decode()}
    archive = zipped(
        {"A_0005.zip": inner, "B_0010.zip": zipped({"b.csv": b"x"}), "readme.txt": b"?"}
    )
    found = mms.read_zip(archive)
    assert set(found) == {"A_0005.zip/PUBLIC_DISPATCHSCADA_203001020005.CSV", "B_0010.zip/b.csv"}
    tables = mms.parse_mms(found["A_0005.zip/PUBLIC_DISPATCHSCADA_203001020005.CSV"])
    assert len(tables[("DISPATCH", "UNIT_SCADA")]) == 2


def test_zips_are_bounded() -> None:
    big = zipped({"big.CSV": b"C" * 5000})
    with pytest.raises(MmsError, match=r"^zip member big.CSV is 5000 bytes, over 4096$"):
        mms.read_zip(big, max_member_bytes=4096)
    too_deep = zipped({"a.zip": zipped({"b.zip": zipped({"c.csv": b"x"})})})
    with pytest.raises(MmsError, match="nested too deep"):
        mms.read_zip(too_deep)
    with pytest.raises(MmsError, match="not a zip file"):
        mms.read_zip(b"PK not really")


def test_zips_are_bounded_in_total_and_in_members_inner_zips_included() -> None:
    four = {f"m{i}.CSV": b"C" * 1000 for i in range(4)}
    assert len(mms.read_zip(zipped(four), max_members=4, max_total_bytes=4000)) == 4
    with pytest.raises(MmsError, match="over 3 members"):
        mms.read_zip(zipped(four), max_members=3)
    with pytest.raises(MmsError, match=r"m3\.CSV is 1000 bytes, over 999$"):
        mms.read_zip(zipped(four), max_total_bytes=3999)
    nested = zipped({"a.zip": zipped(four), "b.zip": zipped(four)})
    with pytest.raises(MmsError, match="over 9 members"):
        mms.read_zip(nested, max_members=9)  # 2 inner zips + 8 CSVs
    with pytest.raises(MmsError, match=r"m\d.CSV is 1000 bytes, over \d+$"):
        # The CSVs' 8000 bytes and one inner zip fit; the second inner zip's bytes count too.
        mms.read_zip(nested, max_total_bytes=8000 + len(zipped(four)))


def test_a_member_that_does_not_unpack_is_an_mms_error() -> None:
    good = zipped({"a.CSV": b"C,x\n" * 1000})
    spoilt = bytearray(good)
    at = spoilt.index(b"a.CSV") + 5 + 10  # inside the compressed data
    spoilt[at : at + 8] = b"\xff" * 8
    with pytest.raises(MmsError, match="does not unpack"):
        mms.read_zip(bytes(spoilt))


# --- interconnectors -------------------------------------------------------------------------


def flow(ic: str, metered: float, target: float | None = None) -> InterconnectorFlow:
    return InterconnectorFlow(T0, ic, metered, metered if target is None else target, 0.0)


def test_net_interchange_and_imports_exports() -> None:
    flows = [flow("NSW1-QLD1", 500), flow("VIC1-NSW1", -200), flow("T-V-MNSP1", 300, 280)]
    # NSW1 exports 500 to QLD1 and 200 to VIC1; TAS1 sends 300 to VIC1.
    assert mms.net_interchange(flows) == {"NSW1": -700, "QLD1": 500, "VIC1": 500, "TAS1": -300}
    assert mms.net_interchange(flows, metered=False)["TAS1"] == -280
    assert mms.imports_exports(flows) == {
        "NSW1": (0, 700),
        "QLD1": (500, 0),
        "VIC1": (500, 0),
        "TAS1": (0, 300),
    }


def test_every_current_interconnector_runs_between_two_regions() -> None:
    regions = {"NSW1", "QLD1", "VIC1", "SA1", "TAS1"}
    for ic, (start, end) in mms.INTERCONNECTORS.items():
        assert {start, end} <= regions and start != end, ic


def test_net_interchange_refuses_mixed_or_unknown_flows() -> None:
    other = InterconnectorFlow(datetime(2030, 1, 2, 0, 10, tzinfo=NEM_TZ), "V-SA", 1, 1, 0)
    with pytest.raises(MmsError, match="two intervals"):
        mms.net_interchange([flow("V-SA", 1), other])
    with pytest.raises(MmsError, match="unknown interconnector 'X-Y'"):
        mms.net_interchange([flow("X-Y", 1)])
    with pytest.raises(MmsError, match="twice"):
        mms.imports_exports([flow("V-SA", 1), flow("V-SA", 2)])


# --- the real AEMO files ---------------------------------------------------------------------

CDEII_FILE = "CO2EII_AVAILABLE_GENERATORS_2017_43_20171103104827.CSV"
INTERCONNECT_FILE = "PUBLIC_DVD_TRADINGINTERCONNECT_201706010000.CSV"
REGIONSUM_FILE = "PUBLIC_DVD_TRADINGREGIONSUM_201706010000.CSV"
# MW beyond the interval's total interconnector losses that rounding may add.
SLACK_MW = 5.0
# AEMO's NETINTERCHANGE summed over the NEM is the interval's total losses (what leaves the
# regions and never arrives), to within this; the real June 2017 files stay within 12 MW.
NEM_SUM_SLACK_MW = 15.0


def read_real(folder: Path, name: str) -> dict:
    path = folder / name
    if not path.is_file():
        pytest.fail(f"{path} is missing from the shared AEMO folder")
    # Bytes decoded as they come keep the CRLF for the parser, as a zip member would.
    return mms.parse_mms(path.read_bytes().decode("ascii"))


def test_real_cdeii_factors_are_plausible(shared_aemo: Path) -> None:
    factors = mms.emission_factors(read_real(shared_aemo, CDEII_FILE)[("CO2EII", "PUBLISHING")])
    assert factors
    assert all(0 <= f.factor_t_per_mwh <= 2 for f in factors)
    per_duid = mms.duid_emission_factors(factors)
    print(f"CDEII: {len(factors)} gensets, {len(per_duid)} DUIDs")


def _real_intervals(folder: Path) -> tuple[dict, dict]:
    flows = mms.interconnector_flows(
        read_real(folder, INTERCONNECT_FILE)[("TRADING", "INTERCONNECTORRES")]
    )
    demand = mms.region_demand(read_real(folder, REGIONSUM_FILE)[("TRADING", "REGIONSUM")])
    aemo: dict[datetime, dict[str, float]] = defaultdict(dict)
    for row in demand:
        aemo[row.interval_end][row.region_id] = row.net_export_mw
    return mms.group_by_interval(flows), dict(aemo)


def test_real_flows_match_aemos_net_interchange(shared_aemo: Path) -> None:
    """AEMO's NETINTERCHANGE (+ = export) is the target flows (MWFLOW) through our mapping,
    within the interval's total losses; METEREDMWFLOW drifts further and is only reported."""
    by_interval, aemo = _real_intervals(shared_aemo)
    assert len(by_interval) == len(aemo) == 30 * 48
    worst = {True: 0.0, False: 0.0}
    for interval, flows in by_interval.items():
        losses = sum(abs(f.losses_mw) for f in flows)
        for metered in (True, False):
            ours = mms.net_interchange(flows, metered=metered)
            assert set(ours) == set(aemo[interval])
            for region, net_import in ours.items():
                diff = abs(net_import + aemo[interval][region])
                worst[metered] = max(worst[metered], diff)
                if not metered:
                    assert diff <= losses + SLACK_MW, (interval, region, diff, losses)
    print(f"worst |ours - AEMO|: target {worst[False]:.2f} MW, metered {worst[True]:.2f} MW")


def test_real_net_interchange_sums_to_about_zero(shared_aemo: Path) -> None:
    by_interval, aemo = _real_intervals(shared_aemo)
    worst = 0.0
    for interval, flows in by_interval.items():
        losses = sum(f.losses_mw for f in flows)
        assert abs(sum(mms.net_interchange(flows).values())) < 1e-6
        aemo_sum = sum(aemo[interval].values())
        assert abs(aemo_sum) <= sum(abs(f.losses_mw) for f in flows) + NEM_SUM_SLACK_MW
        worst = max(worst, abs(aemo_sum - losses))
        assert abs(aemo_sum - losses) <= NEM_SUM_SLACK_MW, (interval, aemo_sum, losses)
        imports_exports = mms.imports_exports(flows)
        assert sum(i for i, _ in imports_exports.values()) == pytest.approx(
            sum(e for _, e in imports_exports.values())
        )
    print(f"worst |sum of AEMO NETINTERCHANGE over the NEM - losses|: {worst:.2f} MW")


def test_a_field_over_the_csv_limit_is_an_mms_error_not_a_crash() -> None:
    huge = f'D,DISPATCH,UNIT_SCADA,1,"2030/01/02 00:05:00",UNITA1,{"9" * 200_000},x'
    with pytest.raises(MmsError, match="line 3: not CSV"):
        mms.parse_mms(report(SCADA[0], huge))


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999", "9" * 400])
def test_a_non_finite_number_is_refused(value: str) -> None:
    row = f'D,DISPATCH,UNIT_SCADA,1,"2030/01/02 00:05:00",UNITA1,{value},x'
    with pytest.raises(MmsError, match="not a finite number"):
        mms.unit_scada(mms.parse_mms(report(SCADA[0], row))[("DISPATCH", "UNIT_SCADA")])
    demand = {"TOTALDEMAND": "1", "REGIONID": "SA1", "SETTLEMENTDATE": "2030/01/02 00:05:00"}
    with pytest.raises(MmsError, match="not a finite number"):
        mms.region_demand([{**demand, "NETINTERCHANGE": value}])
