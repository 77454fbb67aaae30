# Set-up is part of every target: a fresh clone needs only `make train` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= configs/default.yaml

.PHONY: setup train lint test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,offline,serve,ray,onnx]'
	touch $@

setup: $(VENV)/.installed

OUTPUT_DIR = $$($(PY) -c "import yaml; print(yaml.safe_load(open('$(CONFIG)'))['output_dir'])")

# Train (dev keeps the epoch and tunes the priors and threshold; the checkpoint to use:
# OUTPUT_DIR/best) and score it on the test split. No refit on train + dev: outside the battle the
# refit scored lower on the held-out ANERcorp part of dev (docs/results.md).
train: setup
	$(VENV)/bin/marsad train --config $(CONFIG)
	$(VENV)/bin/marsad evaluate --checkpoint $(OUTPUT_DIR)/best --split test

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs
