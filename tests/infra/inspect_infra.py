"""Runs inside .venv-infra (see setup_env.sh), called by the tests; prints one JSON document.

    python inspect_infra.py bicep DIR[::REL,REL] ...  syntax (tree-sitter) + parse (pycep) of the
                                                       *.bicep under DIR (or only those RELs)
    python inspect_infra.py azure-yaml FILE SCHEMA   jsonschema validation of an azure.yaml

The tests themselves run in the app's .venv and only read this JSON, so neither venv needs the
other's packages.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _syntax_problems(parser: Any, source: bytes) -> dict[str, list[str]]:
    """ERROR and MISSING nodes, and resources declared inside another resource's body."""
    errors: list[str] = []
    nested: list[str] = []

    def walk(node: Any, inside_resource: bool) -> None:
        where = f"{node.start_point[0] + 1}:{node.start_point[1] + 1}"
        if node.type == "ERROR" or node.is_missing:
            kind = "MISSING" if node.is_missing else "ERROR"
            errors.append(f"{where} {kind} {node.text.decode(errors='replace')[:60]!r}")
        is_resource = node.type == "resource_declaration"
        if is_resource and inside_resource:
            nested.append(f"{where} {node.text.decode(errors='replace').splitlines()[0]}")
        for child in node.children:
            walk(child, inside_resource or is_resource)

    walk(parser.parse(source).root_node, False)
    return {"errors": errors, "nested_resources": nested}


def bicep(targets: list[str]) -> dict[str, Any]:
    import tree_sitter_bicep
    from pycep import BicepParser
    from tree_sitter import Language, Parser

    parser = Parser(Language(tree_sitter_bicep.language()))
    result: dict[str, Any] = {}
    for target in targets:
        directory, _, only = target.partition("::")
        root = Path(directory)
        paths = [root / rel for rel in only.split(",")] if only else sorted(root.rglob("*.bicep"))
        files: dict[str, Any] = {}
        for path in paths:
            entry: dict[str, Any] = _syntax_problems(parser, path.read_bytes())
            try:
                entry["template"] = BicepParser().parse(file_path=path)
            except Exception as exc:  # any parser failure is a finding
                entry["template"] = None
                entry["parse_error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
            files[path.relative_to(root).as_posix()] = entry
        result[target] = files
    return result


def azure_yaml(document_path: str, schema_path: str) -> dict[str, Any]:
    import jsonschema
    import yaml

    schema = json.loads(Path(schema_path).read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)  # the committed schema is itself valid
    document = yaml.safe_load(Path(document_path).read_text())
    errors = sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator_class(schema).iter_errors(document)
    )
    return {"document": document, "errors": errors, "validator": validator_class.__name__}


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "bicep":
        output = bicep(args)
    elif command == "azure-yaml":
        output = azure_yaml(*args)
    else:
        raise SystemExit(f"unknown command {command!r}")
    json.dump(output, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
