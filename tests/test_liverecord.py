"""make live's recorder helpers: its store, the log tap that says when a child is ready,
the cache's newest interval, the store's, and the checkpoint of a cache never recorded."""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

from nemlive.devtools import liverecord
from nemlive.store import open_store
from tests.support_dashboard import write_consolidate_csv


def test_the_tap_copies_every_line_and_notes_the_mark() -> None:
    read_fd, write_fd = os.pipe()
    out = io.BytesIO()
    with open(read_fd, "rb") as reader, open(write_fd, "wb", buffering=0) as writer:
        tap = liverecord.LineTap(reader, liverecord.RECORDER_READY, out=out)
        writer.write(b"14:28:29 INFO recorder: recording into sqlite:///x.db\n")
        assert not tap.seen.wait(0.2)
        writer.write(b"14:28:29 INFO subscriber: connected to h:1 as c, subscribed to nem/live/#\n")
        assert tap.seen.wait(5)
        writer.write(b"the last line\n")
    tap.join(timeout=5)
    assert out.getvalue().splitlines() == [
        b"14:28:29 INFO recorder: recording into sqlite:///x.db",
        b"14:28:29 INFO subscriber: connected to h:1 as c, subscribed to nem/live/#",
        b"the last line",
    ]


def test_the_fill_is_done_at_the_followers_first_poll_line() -> None:
    tap = liverecord.LineTap(
        io.BytesIO(
            b"INFO extractor: no cache yet: filling the last 1 days\n"
            b"INFO extractor: poll: +288 intervals, prices to 08 Dec 00:20\n"
        ),
        liverecord.FILL_DONE,
        out=io.BytesIO(),
    )
    tap.join(timeout=5)
    assert tap.seen.is_set()
    quiet = liverecord.LineTap(
        io.BytesIO(b"WARNING extractor: poll failed: x; the next poll tries again\n"),
        liverecord.FILL_DONE,
        out=io.BytesIO(),
    )
    quiet.join(timeout=5)
    assert not quiet.seen.is_set()


def test_the_newest_interval_of_a_cache_is_its_last_rows(tmp_path: Path) -> None:
    csv_path = write_consolidate_csv(tmp_path / "consolidate.csv", intervals=12)
    last = csv_path.read_text().splitlines()[-1].split(",", 1)[0]
    assert liverecord.newest_interval(csv_path) == int(datetime.fromisoformat(last).timestamp())
    header_only = tmp_path / "empty.csv"
    header_only.write_text(csv_path.read_text().splitlines()[0] + "\n")
    assert liverecord.newest_interval(header_only) is None
    assert liverecord.newest_interval(tmp_path / "missing.csv") is None


def test_a_store_nobody_recorded_into_makes_the_publisher_send_everything_again(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    checkpoint = tmp_path / "consolidate.live.checkpoint.json"
    checkpoint.write_text("{}")
    assert liverecord.read_store_last(url) is None  # no file yet
    with open_store(url):  # created, as the recorder does, and empty
        pass
    assert liverecord.forget_sent_if_unrecorded(url, checkpoint)
    assert not checkpoint.exists()
    assert not liverecord.forget_sent_if_unrecorded(url, checkpoint)  # nothing to forget


def test_a_store_that_holds_the_stream_keeps_the_checkpoint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    with open_store(url) as store:
        store.write([("TCOAL1", 1_760_000_100, 1.0, 1.0)], [("SA1", 1_760_000_100, 90.0, 1.0)])
    assert liverecord.read_store_last(url) == 1_760_000_100
    checkpoint = tmp_path / "consolidate.live.checkpoint.json"
    checkpoint.write_text("{}")
    assert not liverecord.forget_sent_if_unrecorded(url, checkpoint)
    assert checkpoint.exists()


def test_make_lives_store_is_in_the_sources_folder(tmp_path: Path) -> None:
    assert liverecord.live_store_url(None, tmp_path) == f"sqlite:///{tmp_path}/history.db"
    assert liverecord.live_store_url("postgresql://nem@db/nem", tmp_path) == (
        "postgresql://nem@db/nem"
    )
    assert "pw" not in liverecord.describe_store("postgresql://nem:pw@db/nem")
