#!/usr/bin/env bash
# Import function_app in a virtualenv built from requirements.txt alone (what Azure installs)
# and compare its function index with the committed snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-runtime
if [[ ! -f $VENV/.installed || requirements.txt -nt $VENV/.installed ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r requirements.txt
  touch "$VENV/.installed"
fi
"$VENV/bin/python" -m tools.function_index --check
