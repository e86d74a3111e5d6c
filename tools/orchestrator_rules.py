"""Static check: orchestrator modules must not read the clock, randomness or the environment.

Replay cannot see a clock read that only flips a coarse branch, so this check covers it.
"""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
    ("os", "environ"),
    ("os", "getenv"),
}
FORBIDDEN_MODULES = {"random", "secrets"}


def _dotted_tail(node: ast.AST) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute):
        value = node.value
        if isinstance(value, ast.Name):
            return value.id, node.attr
        if isinstance(value, ast.Attribute):
            return value.attr, node.attr
    return None


def violations(source: str, filename: str = "<source>") -> list[str]:
    found = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{where}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[0]
            if module in FORBIDDEN_MODULES:
                found.append(f"{where}: imports from {node.module}")
            for alias in node.names:
                if (module, alias.name) in FORBIDDEN_CALLS:
                    found.append(f"{where}: imports {module}.{alias.name}")
        else:
            tail = _dotted_tail(node)
            if tail in FORBIDDEN_CALLS:
                found.append(f"{where}: uses {tail[0]}.{tail[1]}")
    return found


def check_tree(folder: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(folder.rglob("*.py")):
        found.extend(violations(path.read_text(), str(path)))
    return found
