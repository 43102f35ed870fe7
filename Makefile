# The README's two commands: `make demo` (main job) and `make test` (the suite).
# Both create .venv from the project's own files on first use.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck check bench clean docs

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/txsync demo

test: $(BIN)/.installed
	$(BIN)/pytest -n auto --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check

typecheck: $(BIN)/.installed
	$(BIN)/mypy --strict src

check: lint typecheck test

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The docs site, built strictly (a broken link, anchor or docstring reference fails) into site/. Its tools
# come with the docs extra, installed into the same environment.
$(BIN)/.docs-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

docs: $(BIN)/.docs-installed
	$(BIN)/mkdocs build --strict --site-dir site
