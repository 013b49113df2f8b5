"""recorder.py: record the MQTT stream into a history store (docs/recording.md).

    python recorder.py [--store sqlite:///nemlive.db] [--keep-days 30]
                       [--host localhost] [--port 1883] [--topic nem/stream]

The program is ``nemlive.cli.recorder`` (also installed as ``nemlive-recorder``); this file
runs it from a clone.
"""

import sys

from nemlive.cli.recorder import build_parser, load_admission, main, parse_options, run

__all__ = ["build_parser", "load_admission", "main", "parse_options", "run"]

if __name__ == "__main__":
    sys.exit(main())
