"""The programs behind the ``nemlive-*`` commands (``[project.scripts]`` in pyproject.toml).

* ``extractor``, ``publisher``, ``recorder``: extractor.py, publisher.py and recorder.py,
  whose top-level files run these modules from a clone.
* ``launch``: ``nemlive-dashboard``, which runs the top-level dashboard.py as shipped in the
  wheel (or found in the clone).
"""

from nemlive.cli.launch import find_program, run_dashboard

__all__ = ["find_program", "run_dashboard"]
