"""alerts.py: evaluate alert rules on the MQTT stream and publish what fires (docs/alerts.md).

    python alerts.py [--rules alerts.toml] [--state alerts.state.json]
                     [--host localhost] [--port 1883] [--topic nem/stream]

The program is ``nemlive.cli.alerts`` (also installed as ``nemlive-alerts``); this file runs
it from a clone.
"""

import sys

from nemlive.cli.alerts import build_parser, main, parse_options, run

__all__ = ["build_parser", "main", "parse_options", "run"]

if __name__ == "__main__":
    sys.exit(main())
