# Two commands from a fresh clone: `make reproduce` and `make test`. Every target sets up .venv on first use.
# PROFILE selects profiles/<PROFILE>.yaml (smoke | small | paper); ONLY picks notebooks by key or number.
PROFILE ?= small
ONLY ?=
FORCE ?=
PYTHON ?= python3
# OpenMP threads sleep instead of spinning while they wait: on a shared 2-core machine spinning made torch
# 5-50x slower (benchmarks/run.py, measured in alternating processes); override with OMP_WAIT_POLICY=ACTIVE.
export OMP_WAIT_POLICY ?= PASSIVE
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PIPELINE_ARGS := --profile $(PROFILE) $(if $(ONLY),--only $(ONLY)) $(if $(FORCE),--force)

.PHONY: reproduce test unit lab bench bench-core bench-deps clean clean-all venv

# The stamp makes a second call do no install work; it is rebuilt when the lock or pyproject changes.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name dtlib --display-name "Python (dtlib)" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

reproduce: $(STAMP)
	$(PY) -m dtlib.pipeline $(PIPELINE_ARGS)

unit: $(STAMP)
	$(PY) -m pytest -q tests

# After the smoke pipeline: open its index and every report in headless Chromium. Without Chromium the check
# skips with a loud line (-rs prints it); .ci/run sets DTLIB_REQUIRE_BROWSER=1, which turns that skip into a failure.
test: unit
	$(PY) -m dtlib.pipeline --profile smoke
	@$(PY) -c "import sys; from dtlib.browser import find_browser; sys.exit(find_browser() is None)" || \
	  echo "*** make test: NO CHROMIUM - THE REPORTS WERE NOT CHECKED IN A BROWSER. Install it (Debian/Ubuntu: \
	apt-get install -y chromium; or set DTLIB_CHROMIUM=/path/to/chromium) and rerun make test. ***"
	$(PY) -m pytest -q -rs -m browser tests/test_browser.py

# The notebooks' kernelspec is `dtlib` (this .venv); root (e.g. in a container) needs --allow-root.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Ours against the official DT/BC/evaluation and d3rlpy's CQL, interleaved in one process, 1 and 2 threads, each row
# with its fraction of the measured matmul peak -> reports/bench.json (docs/speed.md). `make bench-deps` first
# installs the references (optional); `bench-core` is the older self-only benchmark (benchmarks/run.py).
bench: $(STAMP)
	$(PY) benchmarks/compare.py --out reports/bench.json

bench-core: $(STAMP)
	$(PY) benchmarks/run.py --out reports/bench-core.json

bench-deps: $(STAMP)
	$(PY) -m pip install --quiet --no-deps --target .bench-deps -r benchmarks/requirements-bench.txt

clean:
	rm -rf reports

clean-all: clean
	rm -rf data runs
