# The README's commands. Each bootstraps what it needs on first use (virtualenv, pip, npm).
# The app runs on Python 3.13 (Azure's own runtime, azure-functions-runtime, needs it):
# tools/find_python313.sh finds one, or says how to get it.
PYTHON ?= $(shell tools/find_python313.sh)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-3.13
NODE_STAMP := node_modules/.installed
# The price store's sample (issue 16): skfolio's wheel carries the data files we read through
# importlib.metadata; the package is never imported, so none of its dependencies (scikit-learn,
# cvxpy, ...) is installed.
SAMPLE_PKG := skfolio==1.12.2
SAMPLE_STAMP := $(VENV)/.installed-skfolio-1.12.2
TICKER ?=

.PHONY: deps test demo backtest serve bench lint check-index clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { tools/find_python313.sh; exit 1; }
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null \
		|| { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(SAMPLE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --no-deps $(SAMPLE_PKG)
	touch $(SAMPLE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

local.settings.json: local.settings.sample.json
	@test -f $@ || { cp $< $@; echo "created $@ from $<"; }

deps: $(STAMP) $(SAMPLE_STAMP) $(NODE_STAMP) local.settings.json

test: deps
	$(PY) -m pytest -q

demo: deps
	$(PY) -m demo $(TICKER)

# The backtest on the sample's real prices (issue 16): Azurite, the sample, a local host with the
# history provider, the offline writer and a raised quota; results in backtest-results/.
backtest: deps
	$(PY) -m demo.backtest

serve: deps
	@echo "function keys: $(PY) -m devhost keys --root . (while this runs, from another shell)"
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
