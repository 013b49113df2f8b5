"""nemlive.common.atomicfile: replace files atomically, or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nemlive.common.atomicfile import write_files_atomically


def test_write_files_replaces_targets_and_leaves_no_temp_files(tmp_path: Path) -> None:
    a, b = tmp_path / "consolidate.csv", tmp_path / "data" / "facilities.csv"
    a.write_bytes(b"old")
    write_files_atomically([(b, b"facilities"), (a, b"new")])
    assert a.read_bytes() == b"new" and b.read_bytes() == b"facilities"
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "consolidate.csv",
        "data",
        "facilities.csv",
    ]


def test_a_failed_write_changes_no_target(tmp_path: Path) -> None:
    good = tmp_path / "consolidate.csv"
    good.write_bytes(b"previous cache")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder is needed")
    with pytest.raises(OSError):
        write_files_atomically([(good, b"new cache"), (blocked / "meta.json", b"{}")])
    assert good.read_bytes() == b"previous cache"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_write_keeps_the_mode_of_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "consolidate.csv"
    target.write_bytes(b"x")
    os.chmod(target, 0o640)
    write_files_atomically([(target, b"y")])
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_new_file_gets_the_umask_and_the_umask_is_never_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading the umask by setting it would race with every other thread creating files.
    calls: list[int] = []
    real_umask = os.umask
    old = real_umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real_umask(mask))
        write_files_atomically([(tmp_path / "new.csv", b"x")])
        monkeypatch.undo()
        assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o640
        assert calls == []
    finally:
        real_umask(old)
