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

# The embedded default job (train_mlctl.py with no arguments: a small model from scratch on the shipped sample, a few
# minutes on 2 CPU cores), then Tatoeba-style retrieval on the sample's held-out lines, and on ../shared's Tatoeba
# when present.
DEMO := outputs/demo
DEMO_EVAL := $(PY) run_xtreme_tasks.py --model_name_or_path $(DEMO)/model --tasks tatoeba --languages de,fr,es --no_hub \
	--retrieval_max_length 128
demo: install
	$(PY) train_mlctl.py
	$(DEMO_EVAL) --data_dir $(DEMO)/heldout --output_dir $(DEMO)/xtreme
	if [ -d ../shared/data/tatoeba ]; then $(DEMO_EVAL) --data_dir ../shared/data --output_dir $(DEMO)/xtreme-shared; \
	else echo "../shared/data/tatoeba is absent: skipping the real Tatoeba evaluation"; fi

test: install
	$(PY) -m pytest -q tests

# The quick benchmarks (a few minutes); bench_data_prep.py, data_prep_multi30k.py and bench_retrieval.py take longer.
bench: install
	$(PY) benchmarks/bench_losses.py
	$(PY) benchmarks/bench_train_step.py

clean:
	rm -rf $(VENV) build *.egg-info
