"""NEM Live's library, one package per stage of the pipeline.

* ``nemlive.common``: what every program shares: the MQTT wire schema, the CSV columns, NEM
  time, the lookup tables, MQTT settings, errors, atomic writes and logging.
* ``nemlive.extract``: OpenElectricity API -> consolidate.csv (``extractor.py``).
* ``nemlive.publish``: consolidate.csv -> MQTT (``publisher.py``), and the embedded broker.
* ``nemlive.dashboard``: MQTT -> the live state and the page's builders (``dashboard.py``).
* ``nemlive.devtools``: ``make run`` and ``make data``.
"""
