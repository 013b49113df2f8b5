"""extractor.py: OpenElectricity v4 API -> consolidate.csv (+ meta) and data/facilities.csv.

    python extractor.py [--start 2025-10-01] [--end 2025-10-08] [--network NEM]
                        [--out consolidate.csv] [--facilities-out data/facilities.csv]

The program is ``nemlive.cli.extractor`` (also installed as ``nemlive-extractor``); this file
runs it from a clone.
"""

import sys

from nemlive.cli.extractor import build_parser, main, resolve_config, run

__all__ = ["build_parser", "main", "resolve_config", "run"]

if __name__ == "__main__":
    sys.exit(main())
