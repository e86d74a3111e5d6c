#!/usr/bin/env bash
# Builds .venv-infra, the virtualenv of the infrastructure checking tools (checkov, pycep-parser,
# tree-sitter-bicep, jsonschema; pinned in tests/infra/requirements.txt), so the app's .venv stays
# lean. The first run installs from PyPI (about 15 s); later runs compare a stamp and return at
# once. Anything that cannot be installed fails the run loudly: the tests never skip for it.
#
#   bash tests/infra/setup_env.sh            # PYTHON=python3.13 INFRA_VENV=/elsewhere to override
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${INFRA_VENV:-$ROOT/.venv-infra}"
REQUIREMENTS="$ROOT/tests/infra/requirements.txt"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed"

# The stamp names the requirements and the interpreter it was built from.
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c "" 2>/dev/null; then
  exit 0
fi

echo "setup_env: building $VENV from $REQUIREMENTS" >&2
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
# Every tool the tests call must import and run, or this setup fails here rather than in a test.
"$VENV/bin/python" -c "import checkov, jsonschema, pycep, tree_sitter, tree_sitter_bicep, yaml"
"$VENV/bin/checkov" --version >/dev/null
echo "$want" > "$STAMP"
