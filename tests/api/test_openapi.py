"""The OpenAPI document: built from the handlers' own models, naming the registered routes."""

from __future__ import annotations

from typing import Any

import pytest

from api.batches import BatchRequest
from api.openapi import REF, component_schemas, document
from api.openapi_batches import BatchSubmission
from api.stats import StatsView
from shared.domain.batches import MAX_BATCH_TICKERS, BatchPage, BatchView, parse_tickers
from shared.domain.models import (
    Accepted,
    AnalysisRequest,
    ErrorBody,
    HealthView,
    JobPage,
    JobView,
    ReportLink,
)
from shared.errors import StockMemoError
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


def anonymous_functions() -> set[str]:
    return {
        function["name"]
        for function in runtime_index()
        for binding in function["bindings"]
        if binding["type"] == "httpTrigger" and binding["authLevel"] == "ANONYMOUS"
    }


def test_every_documented_operation_is_the_registered_function_of_that_route() -> None:
    registered = http_functions()
    for operation_id, (method, path) in operations().items():
        assert operation_id in registered, operation_id
        methods, route = registered[operation_id]
        assert method in methods and route == path, operation_id


def test_every_registered_route_is_documented() -> None:
    registered = http_functions()
    assert set(operations()) == set(registered)


def test_only_the_anonymous_routes_are_documented_without_a_key() -> None:
    keyless = {
        op["operationId"]
        for item in DOC["paths"].values()
        for method, op in item.items()
        if method != "parameters" and op.get("security") == []
    }
    assert keyless == anonymous_functions() == {"ui_page", "ui_asset"}


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
        (StatsView, "serialization"),
        (BatchSubmission, "validation"),
        (BatchView, "serialization"),
        (BatchPage, "serialization"),
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


def test_the_error_codes_of_each_batch_route() -> None:
    batches = DOC["paths"]["/api/batches"]
    post = batches["post"]["responses"]
    assert set(post) == {"202", "400", "401", "411", "413", "422", "429", "503"}
    for code in ("invalid_body", "invalid_ticker", "invalid_batch", "invalid_idempotency_key"):
        assert f"`{code}`" in post["400"]["description"], code
    assert "`value`" in post["400"]["description"]
    assert "Retry-After" in post["429"]["headers"] and "quota_exceeded" in post["429"][
        "description"]
    assert {"Location", "Retry-After"} == set(post["202"]["headers"])
    assert post["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Accepted"}
    assert [p["name"] for p in batches["post"]["parameters"]] == ["Idempotency-Key"]
    assert batches["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchSubmission"}
    listing = batches["get"]
    assert set(listing["responses"]) == {"200", "400", "401"}
    assert [p["name"] for p in listing["parameters"]] == ["limit", "cursor"]
    one = DOC["paths"]["/api/batches/{id}"]
    assert set(one["get"]["responses"]) == {"200", "401", "404"}
    assert set(one["delete"]["responses"]) == {"202", "401", "404", "409"}
    assert "not_cancellable" in one["delete"]["responses"]["409"]["description"]
    report = DOC["paths"]["/api/batches/{id}/report"]["get"]
    assert set(report["responses"]) == {"200", "400", "401", "404", "409", "503"}
    assert set(report["responses"]["200"]["content"]) == {"text/markdown", "text/html"}
    assert [p["name"] for p in report["parameters"]] == ["format"]
    chart = DOC["paths"]["/api/batches/{id}/chart.svg"]["get"]
    assert set(chart["responses"]) == {"200", "401", "404", "409", "503"}
    assert set(chart["responses"]["200"]["content"]) == {"image/svg+xml"}
    for path in ("/api/batches/{id}", "/api/batches/{id}/report", "/api/batches/{id}/chart.svg"):
        assert [p["name"] for p in DOC["paths"][path]["parameters"]] == ["id"]


def test_the_error_detail_documents_the_offending_value() -> None:
    detail = DOC["components"]["schemas"]["ErrorDetail"]
    assert {"code", "message", "field", "value", "status"} == set(detail["properties"])
    assert detail["required"] == ["code", "message"]


def test_the_documented_batch_body_has_the_admitted_requests_fields() -> None:
    assert set(BatchSubmission.model_fields) == set(BatchRequest.model_fields) == {
        "tickers", "as_of"
    }
    schema = DOC["components"]["schemas"]["BatchSubmission"]
    assert schema["additionalProperties"] is False and schema["required"] == ["tickers"]
    tickers = schema["properties"]["tickers"]
    assert tickers["type"] == "array" and tickers["items"] == {"type": "string"}
    assert tickers["minItems"] == 2 and "maxItems" not in tickers
    assert "BATCH_MAX_TICKERS" in tickers["description"]


def _server_accepts(body: Any) -> bool:
    try:
        parse_tickers(body, MAX_BATCH_TICKERS)
    except StockMemoError:
        return False
    return True


def _schema_accepts(body: Any) -> bool:
    try:
        BatchSubmission.model_validate(body, strict=True)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    ("body", "admitted"),
    [
        ({"tickers": ["AAPL", "MSFT"]}, True),
        ({"tickers": ["aapl", " msft ", "BRK.B"]}, True),
        ({"tickers": ["AAPL", "AAPL", "MSFT"]}, True),
        ({"tickers": [f"T{i}" for i in range(MAX_BATCH_TICKERS)]}, True),
        ({"tickers": [f"T{i}" for i in range(MAX_BATCH_TICKERS)] + ["T0", "t1"]}, True),
        ({"tickers": ["AAPL", "aapl"]}, False),
        ({"tickers": ["AAPL"]}, False),
        ({"tickers": []}, False),
        ({"tickers": ["AAPL", 7]}, False),
        ({"tickers": "AAPL,MSFT"}, False),
        ({"tickers": ["AAPL", "MSFT"], "extra": 1}, False),
        ({}, False),
        (["AAPL", "MSFT"], False),
    ],
)
def test_every_body_the_server_admits_fits_the_documented_schema(
    body: Any, admitted: bool
) -> None:
    """The document never refuses what the server takes (it may take what the server then
    refuses: a schema cannot count distinct tickers or check each one's rule)."""
    assert _server_accepts(body) is admitted
    if admitted:
        assert _schema_accepts(body), body
