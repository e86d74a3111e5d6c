#!/usr/bin/env bash
# Index function_app with Azure's Python runtime (azure-functions-runtime, as pinned) on Python
# 3.13, in a virtualenv built from requirements.txt alone (what Azure installs), and compare the
# function metadata it reports with the committed snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-runtime
PYTHON=$(tools/find_python313.sh)
if ! "$VENV/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
  rm -rf "$VENV"
fi
if [[ ! -f $VENV/.installed || requirements.txt -nt $VENV/.installed ]]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r requirements.txt
  touch "$VENV/.installed"
fi
"$VENV/bin/python" -m tools.function_index --check
