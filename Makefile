# The README's commands. Each bootstraps what it needs on first use (virtualenv, pip, npm).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
TICKER ?= MSFT

.PHONY: deps test demo serve bench lint check-index clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

local.settings.json: local.settings.sample.json
	@test -f $@ || { cp $< $@; echo "created $@ from $<"; }

deps: $(STAMP) $(NODE_STAMP) local.settings.json

test: deps
	$(PY) -m pytest -q

demo: deps
	$(PY) -m demo $(TICKER)

serve: deps
	$(PY) -m devhost serve --app function_app:app --port 7071 --azurite

bench: deps
	$(PY) -m bench

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

check-index:
	bash tools/check_function_index.sh

clean:
	rm -rf $(VENV) .venv-runtime .venv-infra node_modules .pytest_cache .mypy_cache .ruff_cache
