"""nemlive.publish.checkpoint: atomic write, read back, refuse foreign files."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemlive.common.errors import ConfigError
from nemlive.publish.checkpoint import (
    Checkpoint,
    default_checkpoint_path,
    read_checkpoint,
    write_checkpoint,
)

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


@pytest.mark.parametrize("text", ["", "{", "[]", '{"version": 1}', '{"version": 9, "row": 1}'])
def test_a_foreign_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a publisher checkpoint: delete it"):
        read_checkpoint(path)
