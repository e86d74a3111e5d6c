"""The OpenAPI document: built from the handlers' own models, naming the registered routes."""

from __future__ import annotations

from typing import Any

import pytest

from api.openapi import REF, component_schemas, document
from shared.domain.models import (
    Accepted,
    AnalysisRequest,
    ErrorBody,
    HealthView,
    JobPage,
    JobView,
    ReportLink,
)
from tests.runtime_index import runtime_index

DOC = document("http://localhost:7071")


def operations() -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path)."""
    return {
        op["operationId"]: (method.upper(), path)
        for path, item in DOC["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    }


def http_functions() -> dict[str, tuple[set[str], str]]:
    found = {}
    for function in runtime_index():
        for binding in function["bindings"]:
            if binding["type"] == "httpTrigger":
                found[function["name"]] = (set(binding["methods"]), "/api/" + binding["route"])
    return found


def test_every_documented_operation_is_the_registered_function_of_that_route() -> None:
    registered = http_functions()
    for operation_id, (method, path) in operations().items():
        assert operation_id in registered, operation_id
        methods, route = registered[operation_id]
        assert method in methods and route == path, operation_id


def test_the_api_routes_are_all_documented() -> None:
    documented = set(operations())
    assert {
        "submit_analysis", "list_analyses", "get_analysis", "cancel_analysis", "get_report",
        "health", "openapi",
    } <= documented


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        (AnalysisRequest, "validation"),
        (Accepted, "serialization"),
        (JobView, "serialization"),
        (JobPage, "serialization"),
        (ReportLink, "serialization"),
        (ErrorBody, "serialization"),
        (HealthView, "serialization"),
    ],
)
def test_schemas_are_the_models_own(model: Any, mode: Any) -> None:
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    nested = schema.pop("$defs", {})
    assert DOC["components"]["schemas"][model.__name__] == schema
    for name, sub in nested.items():
        assert DOC["components"]["schemas"][name] == sub


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_every_reference_resolves_and_every_4xx_is_an_error_body() -> None:
    schemas = component_schemas()
    for ref in refs(DOC):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas
    for item in DOC["paths"].values():
        for method, op in item.items():
            if method == "parameters":
                continue
            for status, response in op["responses"].items():
                if status.startswith("4"):
                    content = response["content"]["application/json"]["schema"]
                    assert content == {"$ref": "#/components/schemas/ErrorBody"}


def test_the_error_codes_of_each_route() -> None:
    post = DOC["paths"]["/api/analyses"]["post"]["responses"]
    assert set(post) == {"202", "400", "401", "411", "413", "422", "429", "503"}
    assert "Retry-After" in post["429"]["headers"]
    assert "invalid_idempotency_key" in post["400"]["description"]
    assert "body_too_large" in post["413"]["description"]
    assert "idempotency_conflict" in post["422"]["description"]
    assert "quota_exceeded" in post["429"]["description"]
    cancel = DOC["paths"]["/api/analyses/{id}"]["delete"]["responses"]
    assert set(cancel) == {"202", "401", "404", "409"}
    assert "not_cancellable" in cancel["409"]["description"]
    report = DOC["paths"]["/api/analyses/{id}/report"]["get"]
    assert set(report["responses"]["200"]["content"]) == {
        "text/markdown", "text/html", "application/json"}
    assert DOC["servers"] == [{"url": "http://localhost:7071"}]
