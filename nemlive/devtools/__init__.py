"""Developer tooling: ``python -m nemlive.devtools.run`` (``make run``) and
``python -m nemlive.devtools.makedata`` (``make data``)."""
