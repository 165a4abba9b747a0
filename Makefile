# `make run` starts the app (one process); `make serve` the production stack (a replica per core behind nginx,
# scripts/serve.py); `make test` lints, type-checks, checks the import contracts and runs every test
# (unit, AppTest, browser, the stack), after checking the locked requirements are up to date; `make test-fast`
# only the unit and AppTest tests that train no network (no Chromium, no servers, no training); `make lock` compiles requirements.txt and
# requirements-dev.txt (exact versions, hashes) from requirements.in and requirements-dev.in.
# All first fetch what the machine lacks (python3-venv, Fashion-MNIST, Chromium, nginx, PostgreSQL): scripts/ensure_system.py.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(BIN)/python scripts/ensure_system.py

.PHONY: run dev serve test test-fast lock benchmark model clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found; run: sudo apt-get install python3 python3-venv" >&2; exit 1; }
	$(PYTHON) scripts/ensure_system.py venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(SETUP) data
	$(BIN)/python -m streamlit run app.py

dev: $(VENV)/.runtime  # for editing the code: reruns on save (the file watcher costs each new session seconds)
	$(SETUP) data
	$(BIN)/python -m streamlit run app.py --server.fileWatcherType auto --server.runOnSave true

serve: $(VENV)/.runtime
	$(SETUP) data nginx
	$(BIN)/python scripts/serve.py  # settings: CNN_LAB_REPLICAS, CNN_LAB_PORT, CNN_LAB_ADDRESS, CNN_LAB_DATA_DIR

test: $(VENV)/.dev
	$(BIN)/python scripts/lock.py check  # offline: the .txt files match their .in files (else: make lock)
	$(SETUP) data browser nginx postgresql axe
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy  # settings in pyproject.toml
	$(BIN)/vulture  # dead code; names only Keras, tests or getattr use are listed in pyproject.toml
	$(BIN)/lint-imports  # the layer, Streamlit/Plotly and TensorFlow contracts in pyproject.toml
	$(BIN)/python -m pytest

test-fast: $(VENV)/.dev  # while editing: tests/unit and tests/app without the tests that train (markers: pytest.ini)
	$(SETUP) data
	$(BIN)/python -m pytest -m "not browser and not stack and not training"

lock: $(VENV)/.dev  # after editing requirements.in or requirements-dev.in (README, "Bumping a version")
	$(BIN)/python scripts/lock.py compile $(LOCK_ARGS)  # e.g. LOCK_ARGS="--upgrade-package streamlit"

benchmark: $(VENV)/.dev
	$(SETUP) data browser
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

model: $(VENV)/.runtime
	$(SETUP) data
	$(BIN)/python -m models.networks.train --epochs 10 --output models/fashion_cnn.keras
	$(BIN)/python -m models.networks.train --model dense --epochs 10 --output models/fashion_dnn.keras  # the dense baseline
	$(BIN)/python -m models.explain.shift_test  # both models on shifted test images: models/shift_test.json
	$(BIN)/python -m models.explain.robustness  # both models on noisy, shifted, rotated, occluded images: models/robustness.json
	$(BIN)/python -m models.explain.inspection --evaluation --tsne  # Inspect's evaluation and t-SNE: fashion_cnn.evaluation.npz, .tsne.npz
	$(BIN)/python -m models.explain.neighbours  # Predict's nearest training images: models/fashion_cnn.neighbours.npz
	$(BIN)/python -m models.explain.feature_vis  # what each filter wants to see (about 70 s): models/fashion_cnn.features.npz

clean:
	rm -rf $(VENV) screenshots .pytest_cache
