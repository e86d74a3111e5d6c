"""Indexing an app: once per app object, without taking get_functions() away from others."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from devhost.registry import index_app


def small_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="items/{id}", methods=["GET"])
    def item(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(req.route_params["id"])

    @app.orchestration_trigger(context_name="context")
    def flow(context: df.DurableOrchestrationContext) -> object:
        return (yield context.call_activity("step", 1))

    @app.activity_trigger(input_name="value", activity="step")
    def step_impl(value: int) -> int:
        return value

    return app


def test_an_app_is_indexed_once_and_stays_indexable() -> None:
    app = small_app()
    first = index_app(app)
    assert index_app(app) is first
    assert set(first.orchestrators) == {"flow"}
    assert set(first.activities) == {"step_impl", "step"}  # function name and trigger name
    (route,) = first.http
    assert (route.route, route.methods, route.request_arg) == ("items/{id}", {"GET"}, "req")
    assert [f.get_function_name() for f in app.get_functions()] == ["item", "flow", "step_impl"]


def test_an_app_indexed_by_someone_else_first_can_still_be_hosted() -> None:
    app = small_app()
    app.get_functions()
    assert set(index_app(app).orchestrators) == {"flow"}
