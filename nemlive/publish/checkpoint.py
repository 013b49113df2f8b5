"""The publisher's checkpoints, rewritten atomically (temporary file, fsync, rename) so a kill
at any moment leaves either the old or the new one, never half of one.

* A replay's (``--resume``): the last row whose messages the broker acknowledged; by default
  beside the CSV (``consolidate.csv`` -> ``consolidate.checkpoint.json``).
* A live publisher's (``--follow``): every ``(id, timestamp)`` the broker acknowledged, as the
  runs of :class:`~nemlive.publish.sentlog.SentLog`, bounded to the cache's window; by
  default ``consolidate.live.checkpoint.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config

from nemlive.common.atomicfile import write_files_atomically
from nemlive.common.errors import ConfigError

VERSION = 1


@with_config(ConfigDict(strict=True, extra="forbid"))
@dataclass(frozen=True)
class Checkpoint:
    """Every message of rows up to ``row`` of pass ``pass_number`` was acknowledged.

    ``timestamp`` is that row's timestamp as published (shifted for the pass).
    ``first_timestamp`` and ``rows`` identify the CSV it belongs to; ``topic`` the stream.
    """

    pass_number: int
    row: int
    timestamp: str
    first_timestamp: str
    rows: int
    topic: str
    version: Literal[1] = VERSION


T = TypeVar("T")

# Validation of the file's JSON: exact keys and types, no coercion (a string row is refused).
_READER = TypeAdapter(Checkpoint)


def default_checkpoint_path(csv_path: Path) -> Path:
    """``data/consolidate.csv`` -> ``data/consolidate.checkpoint.json``."""
    return csv_path.with_name(csv_path.stem + ".checkpoint.json")


def write_checkpoint(path: Path, checkpoint: Checkpoint | LiveCheckpoint) -> None:
    """Replace ``path`` atomically with ``checkpoint`` as compact JSON; OSError on failure."""
    data = json.dumps(asdict(checkpoint), separators=(",", ":")).encode("utf-8")
    write_files_atomically([(path, data)])


def _read(path: Path, reader: TypeAdapter[T], otherwise: str) -> T | None:
    """The checkpoint at ``path`` through ``reader``, None if there is none; ConfigError if
    it is unreadable (``otherwise``: what to do when it is not this kind of checkpoint)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f"checkpoint {path} cannot be read ({exc}): delete it or fix its permissions"
        ) from exc
    try:
        return reader.validate_json(text)
    except ValidationError:
        raise ConfigError(f"checkpoint {path} is not {otherwise}") from None


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at ``path``, None if there is none; ConfigError if it is unreadable."""
    return _read(path, _READER, "a publisher checkpoint: delete it or run without --resume")


@with_config(ConfigDict(strict=True, extra="forbid"))
@dataclass(frozen=True)
class LiveCheckpoint:
    """What a live publisher has sent on ``topic``: per stream key (``facility/BAYSW``), runs
    ``[first, last]`` of acknowledged 5-minute stamps (epoch s)."""

    topic: str
    sent: dict[str, list[tuple[int, int]]]
    mode: Literal["live"] = "live"
    version: Literal[1] = VERSION


_LIVE_READER = TypeAdapter(LiveCheckpoint)


def default_live_checkpoint_path(csv_path: Path) -> Path:
    """``live/consolidate.csv`` -> ``live/consolidate.live.checkpoint.json``."""
    return csv_path.with_name(csv_path.stem + ".live.checkpoint.json")


def write_live_checkpoint(path: Path, checkpoint: LiveCheckpoint) -> None:
    """Replace ``path`` atomically with ``checkpoint`` as compact JSON; OSError on failure."""
    write_checkpoint(path, checkpoint)


def read_live_checkpoint(path: Path) -> LiveCheckpoint | None:
    """The live checkpoint at ``path``, None if there is none; ConfigError if unreadable."""
    return _read(
        path,
        _LIVE_READER,
        "a live publisher checkpoint: delete it (everything in the cache is then sent again) "
        "or pass another --checkpoint",
    )
