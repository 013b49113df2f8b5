"""The rules file: what it accepts, and one line naming the rule and the field otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

import alerts
from nemlive.alert.rules import RulesError, load_rules, parse_rules
from tests.conftest import ROOT


def test_the_shipped_example_is_valid_and_covers_every_kind() -> None:
    ruleset = load_rules(ROOT / "alerts.example.toml")
    kinds = {r.kind for r in ruleset.rules}
    assert kinds >= {"price_above", "price_below", "demand_above", "facility_trip"}
    assert kinds >= {"renewable_share_above", "stream_stale"}
    trip = next(r for r in ruleset.rules if r.kind == "facility_trip")
    assert (trip.from_mw, trip.to_mw, trip.for_intervals) == (100.0, 5.0, 1)
    assert trip.exclude_fuels == {"solar", "wind", "battery", "pumps"}


def test_defaults_and_sinks() -> None:
    ruleset = parse_rules(
        '[[rule]]\nname = "t"\nkind = "facility_trip"\n'
        '[[sink]]\nkind = "webhook"\nurl = "https://u:p@ntfy.example/x?auth=1"\nformat = "text"\n'
    )
    (rule,) = ruleset.rules
    assert (rule.from_mw, rule.to_mw, rule.clear_intervals, rule.stream) == (100, 5, 1, "facility")
    assert ruleset.sinks[0].format == "text"


BAD = [
    (
        'name = "a"\nkind = "price_sideways"\nregion = "SA1"\nthreshold = 1',
        "rule 'a': field 'kind'",
    ),
    ('name = "a"\nkind = "price_above"\nregion = "SA1"', "rule 'a': field 'threshold': missing"),
    ('name = "a"\nkind = "price_above"\nthreshold = 1', "rule 'a': field 'region': missing"),
    (
        'name = "a"\nkind = "price_above"\nregion = "SA1"\nthreshold = "300"',
        "rule 'a': field 'threshold'",
    ),
    (
        'name = "a"\nkind = "price_above"\nregion = "SA1"\nthreshold = true',
        "rule 'a': field 'threshold'",
    ),
    ('name = "a"\nkind = "price_above"\nregion = "WA1"\nthreshold = 1', "rule 'a': field 'region'"),
    ('name = "a"\nkind = "stream_stale"\nminutes = 0', "rule 'a': field 'minutes'"),
    ('name = "a"\nkind = "facility_trip"\nfor_intervals = 0', "rule 'a': field 'for_intervals'"),
    ('name = "a"\nkind = "facility_trip"\nthreshold = 3', "rule 'a': field 'threshold'"),
    ('kind = "facility_trip"', "rule 1: field 'name': missing"),
    ('name = "a/b"\nkind = "facility_trip"', "rule 1: field 'name'"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_a_bad_rule_names_the_rule_and_the_field(body: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules("[[rule]]\n" + body + "\n", "alerts.toml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_duplicate_name_is_refused() -> None:
    text = '[[rule]]\nname = "a"\nkind = "facility_trip"\n' * 2
    with pytest.raises(RulesError, match="rule 'a': field 'name': used twice"):
        parse_rules(text)


def test_a_webhook_url_is_never_echoed() -> None:
    text = '[[rule]]\nname = "a"\nkind = "facility_trip"\n[[sink]]\nkind = "webhook"\n'
    with pytest.raises(RulesError) as caught:
        parse_rules(text + 'url = "ftp://user:secret@x/?token=abc"\n')
    assert "secret" not in str(caught.value) and "abc" not in str(caught.value)


@pytest.mark.parametrize(("body", "message"), [*BAD[:4], ("not toml [", "not valid TOML")])
def test_main_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text("[[rule]]\n" + body + "\n" if "toml [" not in body else body)
    assert alerts.main(["--rules", str(rules), "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alerts.py: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_main_checks_a_good_file_and_names_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert alerts.main(["--rules", str(ROOT / "alerts.example.toml"), "--check"]) == 0
    assert "6 rules" in capsys.readouterr().out
    assert alerts.main(["--rules", str(tmp_path / "none.toml"), "--check"]) == 2
    assert "copy alerts.example.toml" in capsys.readouterr().err
