"""A local HTTP server that speaks the OpenElectricity v4 API, and with ``--live`` serves
AEMO's NEMweb reports from the same simulated NEM (test infrastructure).

The extractor's tests and the offline demo week use it; production code never imports it.
Run it with ``python -m oesim --help``.
"""
