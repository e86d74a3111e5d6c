#!/usr/bin/env bash
# Print the path of a Python 3.13 interpreter (what the app runs on, as on Azure), or explain how
# to get one and exit 1. Tried in order: $PYTHON313, python3.13 on PATH, pyenv's 3.13 versions.
set -uo pipefail

works() { "$1" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1; }

for candidate in "${PYTHON313:-}" "$(command -v python3.13 2>/dev/null)"; do
  if [[ -n $candidate ]] && works "$candidate"; then
    "$candidate" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
# A pyenv shim refuses python3.13 unless 3.13 is the selected version: ask pyenv directly.
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in "$root"/versions/3.13*/bin/python3.13; do
  if [[ -x $candidate ]] && works "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done
cat >&2 <<'MSG'
Python 3.13 was not found. The app runs on Python 3.13, as Azure's Flex Consumption plan runs it.
Install it, for example with pyenv (`pyenv install 3.13`) or your system's packages
(`apt-get install python3.13 python3.13-venv`), or point PYTHON313 at an interpreter:
  make test PYTHON313=/path/to/python3.13
MSG
exit 1
