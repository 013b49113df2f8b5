# NEM Live: `make run` starts the demo, `make live` follows the NEM, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help venv run live scale test check lint format data bench mutate clean

help:
	@echo "make run     set up .venv and start broker + publisher + dashboard on the shipped week"
	@echo "             (RUN_ARGS=\"--pace 2 --dashboard-port 8502\"; see python -m nemlive.devtools.run --help)"
	@echo "make live    follow the NEM as it happens: broker + extractor --follow + publisher --follow"
	@echo "             + recorder (live/<source>/history.db) + dashboard; NEMweb or the OE API with"
	@echo "             OPENELECTRICITY_API_KEY, else the simulator's NEMweb face, labelled simulated"
	@echo "             (LIVE_ARGS=\"--keep 2 --dashboard-port 8502\")"
	@echo "make scale   the scaled-out topology on loopback: broker, 2 recorders into PostgreSQL,"
	@echo "             publisher, 3 dashboard replicas behind HAProxy on one port (SCALE_ARGS=\"--port 8600\")"
	@echo "make test    set up .venv and run the whole test suite, in parallel (TEST_WORKERS=4)"
	@echo "make check   lint and the unit tests only (no broker, browser, program or database): < 1 min"
	@echo "make data    rebuild consolidate.csv and data/facilities.csv (real API with"
	@echo "             OPENELECTRICITY_API_KEY, else the simulated week from the OE simulator)"
	@echo "make lint    ruff check and format check"
	@echo "make bench   run every benchmark under bench/ (BENCH_QUICK=1: a short version)"
	@echo "make mutate  mutation testing of the core modules (~10 min on 2 cores; docs/mutation-equivalent.txt)"
	@echo "make venv    only set up .venv;  make format  ruff format + fix;  make clean  remove .venv"

$(STAMP): requirements.txt requirements-dev.txt requirements-test.txt requirements-bench.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "NEM Live needs Python 3.11 or later: run make PYTHON=python3.12")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(PY) -m nemlive.devtools.run $(RUN_ARGS)

live: venv
	$(PY) -m nemlive.devtools.run --live $(LIVE_ARGS)

scale: venv
	$(PY) -m nemlive.devtools.scale $(SCALE_ARGS)

# The tests wait on brokers, programs and browsers more than they compute: more workers than
# cores keep the cores busy. worksteal hands a long test's neighbours to idle workers.
TEST_WORKERS ?= 4
test: venv
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

# Unit tests: those not marked integration (starts a broker, a program, a browser or uses
# PostgreSQL), browser or slow. NEMLIVE_UNIT_ONLY=1 fails any of them that starts one.
UNIT := not integration and not browser and not slow and not live
check: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) tools/check_functions.py
	NEMLIVE_UNIT_ONLY=1 $(PY) -m pytest -n 2 -q -m "$(UNIT)"

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) tools/check_functions.py

format: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

data: venv
	$(PY) -m nemlive.devtools.makedata

# BENCH_QUICK=1 make bench: the same figures from fewer, shorter runs (a few minutes in all).
QUICK := $(filter 1,$(BENCH_QUICK))
bench: venv
	$(PY) bench/extract.py $(if $(QUICK),--runs 1)
	$(PY) bench/publish.py $(if $(QUICK),--runs 1 --skip-rss)
	$(PY) bench/ingest.py $(if $(QUICK),--rounds 1)
	$(PY) bench/record.py $(if $(QUICK),--rounds 1 --messages 20000)
	$(PY) bench/share.py $(if $(QUICK),--rounds 1 --intervals 20)
	$(PY) bench/store_year.py $(if $(QUICK),--quick)
	$(PY) bench/alerts.py $(if $(QUICK),--rounds 1 --intervals 100 --delay-intervals 40)
	$(PY) bench/render.py $(if $(QUICK),--repeats 3 --apptest 1)
	$(PY) bench/encode.py
	$(PY) bench/parse.py
	$(PY) bench/simplify.py
	$(PY) bench/follow.py $(if $(QUICK),--hours 3)
	$(PY) bench/soak.py --hostile 100 $(if $(QUICK),--minutes 1 --warmup 30)
	$(PY) bench/viewers.py $(if $(QUICK),--sessions 10,50 --measure 15 --warmup 12)
	$(PY) bench/scale.py $(if $(QUICK),--quick)

$(VENV)/.mutate-installed: requirements-mutate.txt $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-mutate.txt
	@touch $@

# A fresh run each time: mutmut re-tests only functions whose source changed, so a run kept
# from before a new test would still count that test's mutants as survivors.
mutate: $(VENV)/.mutate-installed
	rm -rf mutants
	NEMLIVE_SHARED_OE=$(CURDIR)/../shared/oe $(VENV)/bin/mutmut run --max-children 2
	$(PY) tools/mutation_score.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache mutants
