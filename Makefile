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

# The embedded default job: a small BERT pre-trained with ML-CTL on the shipped sample (about a minute on 2 CPU cores),
# then retrieval before vs after training on the held-out sample (and ../shared's Tatoeba when present) and the
# t-SNE picture of both models.
demo: install
	$(PY) -m mlctl.demo

test: install
	$(PY) -m pytest -q tests

# The quick benchmarks (a few minutes); bench_data_prep.py, data_prep_multi30k.py and bench_retrieval.py take longer.
bench: install
	$(PY) benchmarks/bench_losses.py
	$(PY) benchmarks/bench_train_step.py

clean:
	rm -rf $(VENV) build *.egg-info
