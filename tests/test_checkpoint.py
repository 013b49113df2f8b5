"""nemlive.publish.checkpoint: atomic write, read back, refuse foreign files."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemlive.common.errors import ConfigError
from nemlive.publish.checkpoint import (
    Checkpoint,
    LiveCheckpoint,
    default_checkpoint_path,
    default_live_checkpoint_path,
    read_checkpoint,
    read_live_checkpoint,
    write_checkpoint,
    write_live_checkpoint,
)
from nemlive.publish.livefeed import read_source

CP = Checkpoint(
    pass_number=1,
    row=7,
    timestamp="2025-10-15T11:45:00+10:00",
    first_timestamp="2025-10-15T10:05:00+10:00",
    rows=12,
    topic="nem/stream",
)


def test_default_path_is_beside_the_csv() -> None:
    assert default_checkpoint_path(Path("data/consolidate.csv")) == Path(
        "data/consolidate.checkpoint.json"
    )


def test_round_trip_replaces_atomically_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.json"
    assert read_checkpoint(path) is None
    write_checkpoint(path, CP)
    write_checkpoint(path, Checkpoint(**{**CP.__dict__, "row": 8}))
    assert read_checkpoint(path) == Checkpoint(**{**CP.__dict__, "row": 8})
    assert [p.name for p in path.parent.iterdir()] == ["c.json"]


DEEP = "[" * 100_000 + "]" * 100_000  # too deep for json.loads (RecursionError)


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"version": 1}', '{"version": 9, "row": 1}', DEEP]
)
def test_a_foreign_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a publisher checkpoint: delete it") as err:
        read_checkpoint(path)
    assert "\n" not in str(err.value)


# --- the live publisher's checkpoint -------------------------------------------------------


LIVE = LiveCheckpoint(
    topic="nem/stream",
    sent={"facility/BAYSW": [(1796000100, 1796003100)], "market/NSW1": [(1796000100, 1796000100)]},
)


def test_the_live_checkpoint_has_its_own_default_path() -> None:
    assert default_live_checkpoint_path(Path("live/consolidate.csv")) == Path(
        "live/consolidate.live.checkpoint.json"
    )


def test_the_live_checkpoint_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "c.live.checkpoint.json"
    assert read_live_checkpoint(path) is None
    write_live_checkpoint(path, LIVE)
    assert read_live_checkpoint(path) == LIVE
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{}", id="empty-object"),
        pytest.param("not json", id="not-json"),
        pytest.param(DEEP, id="nested-too-deeply"),
        pytest.param(
            '{"topic":"t","sent":{"facility/A":[["1","2"]]},"mode":"live","version":1}',
            id="strings-for-numbers",
        ),
        pytest.param(
            '{"pass_number":1,"row":7,"timestamp":"x","first_timestamp":"y","rows":12,'
            '"topic":"t","version":1}',
            id="a-replay-checkpoint",
        ),
    ],
)
def test_a_file_that_is_not_a_live_checkpoint_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match="not a live publisher checkpoint: delete it") as err:
        read_live_checkpoint(path)
    assert "\n" not in str(err.value)


# --- the cache's meta file, as the live publisher reads it ---------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"source": "simulator"}', ("simulator", None), id="simulator"),
        pytest.param('{"source": "openelectricity"}', ("openelectricity", None), id="oe"),
        pytest.param(
            '{"source": "nemweb", "api_url": "https://nemweb.com.au"}',
            ("nemweb", None),
            id="nemweb",
        ),
        pytest.param(
            '{"source": "nemweb", "simulated": true, "api_url": "http://127.0.0.1:8"}',
            ("nemweb", True),
            id="nemweb-simulated",
        ),
        pytest.param(
            '{"source": "nemweb", "api_url": "http://localhost:8"}',
            ("nemweb", True),
            id="nemweb-on-this-machine",
        ),
        pytest.param('{"source": "nemweb", "simulated": "yes"}', ("nemweb", None), id="not-bool"),
        pytest.param('{"source": "elsewhere", "simulated": true}', (None, None), id="unknown"),
        pytest.param("[]", (None, None), id="not-an-object"),
        pytest.param("{", (None, None), id="not-json"),
        pytest.param(DEEP, (None, None), id="nested-too-deeply"),
    ],
)
def test_the_live_publisher_reads_the_source_or_nothing(
    tmp_path: Path, text: str, expected: tuple[str | None, bool | None]
) -> None:
    (tmp_path / "c.meta.json").write_text(text)
    assert read_source(tmp_path / "c.csv") == expected
