"""Helpers for tests against the simulator's NEMweb face: a clock the test moves by hand,
the file names of a directory index, and a served file's MMS tables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import requests

from nemlive.extract import mms
from oesim.nem import NemDataset
from oesim.testing import SimulatorHandle, run_simulator

NEM = timezone(timedelta(hours=10))
HREF = re.compile(r'<A HREF="([^"]+)">')


@dataclass
class HandClock:
    """``config.clock``: stands still until the test sets ``now`` or calls ``advance``."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def at(self, epoch: float) -> None:
        self.now = datetime.fromtimestamp(epoch, NEM)


@cache
def nem_dataset() -> NemDataset:
    """One ``nem`` dataset (seed 2025) for every test: its market days are solved once."""
    return NemDataset(seed=2025)


@contextmanager
def nemweb_simulator(clock: HandClock, **opts: Any) -> Iterator[SimulatorHandle]:
    """The ``nem`` dataset (seed 2025), live, on ``clock``."""
    with run_simulator(nem_dataset(), live=True, clock=clock, **opts) as sim:
        yield sim


def hrefs(html: str) -> list[str]:
    """The links of an IIS directory index, the parent directory's first."""
    return HREF.findall(html)


def listed(sim: SimulatorHandle, directory: str) -> list[str]:
    """The file names (not directories) a directory index lists, in its order."""
    resp = requests.get(sim.root_url + directory, timeout=60)
    resp.raise_for_status()
    return [h.rsplit("/", 1)[1] for h in hrefs(resp.text)[1:] if not h.endswith("/")]


def csv_text(data: bytes) -> str:
    """The one CSV member of a 5-minute NEMweb zip."""
    members = mms.read_zip(data)
    assert len(members) == 1, list(members)
    return next(iter(members.values()))


def tables(sim: SimulatorHandle, path: str) -> mms.Tables:
    resp = requests.get(sim.root_url + path, timeout=60)
    resp.raise_for_status()
    return mms.parse_mms(csv_text(resp.content))
