# Both targets create .venv on a fresh machine: torch==2.13.0 first (the CPU wheel on these
# machines; an unpinned torch pulls gigabytes of CUDA packages), then the package.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: demo test install bench clean

$(VENV)/.installed: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) demo.py

test: install
	$(PY) -m pytest -q tests

bench: install
	$(PY) benchmarks/bench_losses.py

clean:
	rm -rf $(VENV) build *.egg-info
