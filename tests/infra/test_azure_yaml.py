"""azure.yaml against the committed schema (a local subset of azd's, see its $comment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.tooling import ROOT, Inspect

SCHEMA = Path(__file__).parent / "azure.yaml.schema.json"


def test_azure_yaml_has_what_azd_needs(inspect: Inspect) -> None:
    result = inspect("azure-yaml", str(ROOT / "azure.yaml"), str(SCHEMA))
    assert result["validator"] == "Draft201909Validator"
    assert result["errors"] == []
    api = result["document"]["services"]["api"]
    assert (ROOT / api["project"] / "function_app.py").is_file()
    assert (ROOT / api["project"] / "requirements.txt").is_file()
    assert (ROOT / result["document"]["infra"]["path"] / "main.bicep").is_file()


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            "name: Stock Memo\nservices:\n  api:\n    project: .\n    language: python\n"
            "    host: function\n",
            "does not match",
        ),
        (
            "name: stockmemo\ninfra:\n  provider: bicep\n  path: infra\n  module: main\n"
            "services:\n  api:\n    project: .\n    language: python\n    host: appservice\n",
            "'function' was expected",
        ),
        (
            "name: stockmemo\ninfra:\n  provider: bicep\n  path: infra\n  module: main\n"
            "services:\n  api:\n    language: python\n    host: function\n",
            "'project' is a required property",
        ),
        (
            "name: stockmemo\ninfra:\n  provider: bicep\n  path: infra\n  module: main\n"
            "services:\n  api:\n    project: .\n    language: js\n    host: function\n",
            "is not one of",
        ),
        (
            "name: stockmemo\nservices:\n  api:\n    project: .\n    language: python\n"
            "    host: function\n",
            "'infra' is a required property",
        ),
    ],
    ids=["bad-name", "not-a-function", "no-project", "not-python", "no-infra"],
)
def test_the_schema_rejects_what_azd_could_not_deploy(
    inspect: Inspect, tmp_path: Path, broken: str, expected: str
) -> None:
    document = tmp_path / "azure.yaml"
    document.write_text(broken)
    errors = inspect("azure-yaml", str(document), str(SCHEMA))["errors"]
    assert any(expected in error for error in errors), errors
