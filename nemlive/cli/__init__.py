"""The programs behind the ``nemlive-*`` commands (``[project.scripts]`` in pyproject.toml).

* ``extractor``, ``publisher``: extractor.py and publisher.py, whose top-level files run
  these modules from a clone.
* ``launch``: ``nemlive-recorder`` and ``nemlive-dashboard``, which run the top-level
  recorder.py and dashboard.py as shipped in the wheel (or found in the clone).
"""

from nemlive.cli.launch import find_program, run_dashboard, run_recorder

__all__ = ["find_program", "run_dashboard", "run_recorder"]
