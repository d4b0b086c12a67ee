# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501
# pytest-xdist workers for `make test` (auto: one per core); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto

.PHONY: demo test lint bench-gridding screenshots clean-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,postgis]"
	touch $@ $(VENV)/.installed-app

# streamlit_app.py is the entry point: under `streamlit run` it builds st.App with the sign-in routes.
demo: $(VENV)/.installed-app
	$(BIN)/linpu demo load
	LINPU_DEMO_MODE=true $(BIN)/streamlit run streamlit_app.py --server.port $(PORT) --server.address 127.0.0.1 --server.enableStaticServing true --server.headless true

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

clean-db:
	rm -rf var/linpu.sqlite3 var/linpu.sqlite3-wal var/linpu.sqlite3-shm
bench-gridding: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench.gridding_bench --compare --markdown

screenshots: $(VENV)/.installed-test
	$(BIN)/python docs/make_screenshots.py
