"""Start the OE simulator inside a test: ``with run_simulator() as sim: ...``.

``sim.url`` is the base URL to put in ``OPENELECTRICITY_API_URL`` (ends in ``/v4``),
``sim.faults.inject("503", count=2)`` arms faults, ``sim.requests`` is the request log.
The server runs on 127.0.0.1 and an ephemeral port in a daemon thread, and is shut down
(sleeping slow handlers woken) when the block exits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from oesim.dataset import Dataset
from oesim.faults import FaultInjector, RequestLog, parse_fault_spec
from oesim.nemweb import arm_fault, parse_nemweb_fault
from oesim.server import DEMO_KEY, SimulatorConfig, SimulatorServer, load_dataset, make_server

__all__ = ["DEMO_KEY", "SimulatorHandle", "run_simulator"]


@dataclass
class SimulatorHandle:
    """A running simulator. ``url`` = ``http://127.0.0.1:PORT/v4``; ``root_url`` without ``/v4``."""

    server: SimulatorServer
    config: SimulatorConfig

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root_url}/v4"

    @property
    def faults(self) -> FaultInjector:
        return self.server.faults

    @property
    def requests(self) -> RequestLog:
        return self.server.requests

    @property
    def dataset(self) -> Dataset:
        return self.config.dataset


@contextmanager
def run_simulator(
    dataset: Dataset | str = "small",
    keys: Iterable[str] | Mapping[str, str] = (DEMO_KEY,),
    exhausted_keys: Iterable[str] = (),
    seed: int = 0,
    faults: Iterable[str] = (),
    nemweb_faults: Iterable[str] = (),
    **opts: Any,
) -> Iterator[SimulatorHandle]:
    """Run a simulator for the duration of the ``with`` block.

    ``dataset``: a Dataset or ``"small"``/``"scaled"``/``"nem"``; ``keys``: accepted keys
    (a mapping gives each its plan, else COMMUNITY); ``faults``: CLI-style specs armed at
    start (``"503:2"``); ``nemweb_faults``: ``--nemweb-fault`` specs (``"missing:2"``); ``opts``: other :class:`SimulatorConfig` fields (``slow_seconds``,
    ``retry_after``, ``anonymous_market``, ``enforce_history``, ``clock``, ``version``).
    """
    ds = load_dataset(dataset, seed=seed) if isinstance(dataset, str) else dataset
    key_plans = dict(keys) if isinstance(keys, Mapping) else dict.fromkeys(keys, "COMMUNITY")
    config = SimulatorConfig(
        dataset=ds, keys=key_plans, exhausted_keys=frozenset(exhausted_keys), **opts
    )
    server = make_server(config)
    for spec in faults:
        server.faults.add(parse_fault_spec(spec))
    now = config.clock().timestamp()
    for spec in nemweb_faults:
        kind, count, seconds = parse_nemweb_fault(spec)
        arm_fault(server.nemweb, server.faults, kind, count, now, seconds)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield SimulatorHandle(server=server, config=config)
    finally:
        server.stop()
        thread.join(timeout=10)
