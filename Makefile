# Counterfeit Workbench: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXT    := extension
LABEXT := workbench/labextension
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

EXT_SOURCES := $(wildcard $(EXT)/src/*.ts $(EXT)/style/*) $(EXT)/package.json $(EXT)/tsconfig.json

.PHONY: all install demo test lint typecheck unit lab extension wheel bench clean screenshots db

all: install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Build tools and JupyterLab first: `jupyter labextension build` needs them.
$(VENV)/.tools: $(BIN)/python
	$(BIN)/pip install -q $$($(BIN)/python tools/requirements.py build) editables build
	touch $@

$(EXT)/node_modules/.package-lock.json: $(EXT)/package.json $(EXT)/package-lock.json
	cd $(EXT) && npm ci --no-audit --no-fund
	touch $@

# The prebuilt labextension that the wheel carries.
$(LABEXT)/package.json: $(VENV)/.tools $(EXT)/node_modules/.package-lock.json $(EXT_SOURCES)
	cd $(EXT) && PATH="$(CURDIR)/$(BIN):$$PATH" npm run build:prod

extension: $(LABEXT)/package.json

# The dependencies are installed the ordinary way (each sdist, bagit's among them, builds in its
# own isolated environment with the tools it declares); only the project itself is installed
# without isolation, with the build tools above, because its labextension is already built.
$(VENV)/requirements.txt: pyproject.toml $(BIN)/python
	$(BIN)/python tools/requirements.py test > $@

$(VENV)/.installed: $(VENV)/.tools $(VENV)/requirements.txt $(LABEXT)/package.json
	$(BIN)/pip install -q -r $(VENV)/requirements.txt
	@# the PATH is for `labextension develop`, which runs `jupyter-builder`
	HATCH_JUPYTER_BUILDER_SKIP_NPM=1 $(BIN)/pip install -q --no-build-isolation --no-deps -e .
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter labextension develop --overwrite . >/dev/null
	$(BIN)/jupyter server extension enable --sys-prefix workbench >/dev/null
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/workbench demo demo-output

lint: install
	$(BIN)/ruff check workbench tests benchmarks tools
	$(BIN)/ruff format --check workbench tests benchmarks tools

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint typecheck unit

lab: install
	$(BIN)/workbench lab

wheel: install
	$(BIN)/python -m build --wheel --no-isolation --outdir dist .

bench: install
	$(BIN)/python benchmarks/bench_pipeline.py

# A throwaway PostgreSQL + PostGIS on a free localhost port, for trying a team store: prints
# its URL and the command that stops it (the same module the tests' fixture uses).
db: install
	$(BIN)/python -m workbench.team start

clean:
	rm -rf $(VENV) $(EXT)/node_modules $(EXT)/lib $(LABEXT) dist build demo-output

# Refresh the README's screenshots (docs/images) from the browser tests.
screenshots: install
	WORKBENCH_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/pytest -q tests/browser
