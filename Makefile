# `make run` starts the app; `make test` runs every test (unit, AppTest, browser).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test benchmark model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/python -m streamlit run app.py

test: $(VENV)/.dev
	$(BIN)/python -m pytest

benchmark: $(VENV)/.dev
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

model: $(VENV)/.runtime
	$(BIN)/python -m models.train --epochs 10 --output models/fashion_cnn.keras

clean:
	rm -rf $(VENV) screenshots .pytest_cache
