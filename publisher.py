"""publisher.py: replay consolidate.csv to MQTT as a live stream (docs/contracts.md §1 and §3).

    python publisher.py [--csv consolidate.csv] [--host localhost] [--port 1883]
                        [--topic nem/stream] [--delay 0.1] [--cooldown 60] [--cycles 0]

The program is ``nemlive.cli.publisher`` (also installed as ``nemlive-publisher``); this file
runs it from a clone.
"""

import sys

from nemlive.cli.publisher import _maybe_start_embedded, build_parser, main, parse_options, run

__all__ = ["_maybe_start_embedded", "build_parser", "main", "parse_options", "run"]

if __name__ == "__main__":
    sys.exit(main())
