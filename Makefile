# Everything a fresh machine needs: Python 3.11+, pip, make, git.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench eval-narrator clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## a full forecast on the bundled synthetic demo data, offline
	$(VENV)/bin/iwm-analyst forecast --demo --offline

lint: $(STAMP)
	$(VENV)/bin/ruff check engine sources bot prompts tests bench
	$(VENV)/bin/ruff format --check engine sources bot prompts tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy engine sources prompts bot

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck unit  ## ruff, mypy --strict on every package, and the test suite

bench: $(STAMP)  ## speed and memory benchmarks; prints medians and ratios
	$(PY) -m bench

eval-narrator: $(STAMP)  ## the model narrator on 20 real states (needs OPENAI_* set; not in make test)
	$(PY) -m bench.narrator_eval $(EVAL_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
