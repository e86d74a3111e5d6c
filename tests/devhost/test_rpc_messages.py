"""devhost's FunctionRpc message classes behave as protobuf messages do where the runtime relies
on it; each TypedData kind goes through the runtime's own Datum conversions."""

from __future__ import annotations

import pickle
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from azure_functions_runtime.bindings.datumdef import Datum, datum_as_proto
from azure_functions_runtime.bindings.meta import from_incoming_proto, load_binding_registry

from devhost import rpc_messages as rpc

# (TypedData field, value, what the runtime's Datum.python_value gives back)
KINDS: list[tuple[str, Any, Any]] = [
    ("string", "ünïcode", "ünïcode"),
    ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
    ("bytes", b"\x00\xff", b"\x00\xff"),
    ("collection_string", rpc.CollectionString(string=["a", "b"]), ["a", "b"]),
    ("collection_bytes", rpc.CollectionBytes(bytes=[b"a", b"b"]), [b"a", b"b"]),
    ("collection_sint64", rpc.CollectionSInt64(sint64=[1, -2]), [1, -2]),
]


@pytest.mark.parametrize(("kind", "value", "python"), KINDS, ids=[k[0] for k in KINDS])
def test_each_typed_data_kind_reads_back_through_the_runtime(
    kind: str, value: Any, python: Any
) -> None:
    data = rpc.TypedData(**{kind: value})
    assert data.WhichOneof("data") == kind
    datum = Datum.from_typed_data(data)
    assert datum.type == kind
    assert datum.python_value == python


@pytest.mark.parametrize(("kind", "value"), [("int", -(2**40)), ("double", 2.5)])
def test_numbers_are_kinds_the_runtime_writes_but_does_not_read(kind: str, value: Any) -> None:
    data = rpc.TypedData(**{kind: value})
    assert (data.WhichOneof("data"), getattr(data, kind)) == (kind, value)
    with pytest.raises(NotImplementedError, match=f"unsupported TypeData kind: {kind}"):
        Datum.from_typed_data(data)


def test_the_runtime_writes_every_kind_it_can_answer_with() -> None:
    written = {
        "string": datum_as_proto(Datum("x", "string"), rpc),
        "json": datum_as_proto(Datum('{"k": 1}', "json"), rpc),
        "bytes": datum_as_proto(Datum(b"b", "bytes"), rpc),
        "int": datum_as_proto(Datum(3, "int"), rpc),
        "double": datum_as_proto(Datum(0.5, "double"), rpc),
        "bool": datum_as_proto(Datum(True, "bool"), rpc),
        "dict": datum_as_proto(Datum({"d": 1}, "dict"), rpc),
    }
    assert {k: v.WhichOneof("data") for k, v in written.items()} == {
        "string": "string",
        "json": "json",
        "bytes": "bytes",
        "int": "int",
        "double": "double",
        "bool": "int",
        "dict": "json",
    }
    assert written["bool"].int == 1 and written["dict"].json == '{"d": 1}'
    assert datum_as_proto(Datum(None, None), rpc) is None


def test_an_http_response_with_cookies_goes_through_the_runtime() -> None:
    cookie = SimpleCookie("id=42; Path=/; HttpOnly; SameSite=Lax; Max-Age=60")
    datum = Datum(
        {
            "status_code": Datum("201", "string"),
            "headers": {"content-type": Datum("text/plain", "string")},
            "cookies": [cookie],
            "body": Datum(b"made", "bytes"),
        },
        "http",
    )
    http = datum_as_proto(datum, rpc).http
    assert (http.status_code, http.headers, http.body.bytes) == (
        "201", {"content-type": "text/plain"}, b"made"
    )
    (made,) = http.cookies
    assert (made.name, made.value, made.path.value, made.http_only.value) == ("id", "42", "/", True)
    assert made.same_site == rpc.RpcHttpCookie.SameSite.Lax == rpc.RpcHttpCookie.Lax == 1
    assert made.max_age.value == 60.0
    assert made.domain.value == "" and not made.HasField("expires")


def test_an_http_request_decodes_into_azure_functions_request() -> None:
    load_binding_registry()
    http = rpc.RpcHttp(
        method="POST",
        url="http://127.0.0.1/api/x?a=1,2",
        headers={"x-probe": "p"},
        query={"a": "1,2"},
        params={"id": "7"},
        body=rpc.TypedData(bytes=b'{"k": 1}'),
    )
    request = from_incoming_proto(
        "httpTrigger",
        rpc.ParameterBinding(name="req", data=rpc.TypedData(http=http)),
        pytype=None,
        trigger_metadata={},
        function_name="x",
    )
    assert (request.method, request.params["a"], request.route_params["id"]) == ("POST", "1,2", "7")
    assert request.headers["X-Probe"] == "p" and request.get_json() == {"k": 1}


def test_unset_fields_read_as_their_defaults() -> None:
    request = rpc.InvocationRequest(invocation_id="i")
    assert request.trace_context.trace_parent == ""
    assert request.retry_context.retry_count == 0
    assert request.input_data == [] and dict(request.trigger_metadata) == {}
    assert not request.HasField("trace_context")
    assert rpc.TypedData().WhichOneof("data") is None
    assert rpc.RpcHttp().body.WhichOneof("data") is None  # an empty message, not None


def test_a_oneof_keeps_only_the_last_member_set() -> None:
    data = rpc.TypedData(string="s")
    data.json = "{}"
    assert data.WhichOneof("data") == "json" and data.string == ""
    binding = rpc.ParameterBinding(name="n", data=data)
    assert binding.WhichOneof("rpc_data") == "data"


def test_enums_are_ints_on_the_message_and_on_the_enum() -> None:
    assert rpc.StatusResult.Success == rpc.StatusResult.Status.Success == 1
    assert rpc.StatusResult.Failure == 0
    assert (rpc.BindingInfo.out, rpc.BindingInfo.inout, rpc.BindingInfo.undefined) == (1, 2, 0)
    assert getattr(rpc.RpcHttpCookie.SameSite, "None") == 0
    assert rpc.StatusResult.Status.Name(2) == "Cancelled"
    assert rpc.RpcRetryOptions(retry_strategy="fixed_delay").retry_strategy == 1


def test_maps_repeated_fields_and_durations() -> None:
    response = rpc.WorkerInitResponse(capabilities={"A": "true"})
    response.capabilities["B"] = "true"
    assert dict(response.capabilities) == {"A": "true", "B": "true"}
    metadata = rpc.RpcFunctionMetadata()
    metadata.raw_bindings.append("{}")
    assert metadata.raw_bindings == ["{}"]
    options = rpc.RpcRetryOptions(delay_interval=timedelta(seconds=90, microseconds=5))
    assert options.delay_interval.seconds == 90 and options.delay_interval.nanos == 5000
    assert options.delay_interval.ToTimedelta() == timedelta(seconds=90, microseconds=5)


def test_wrong_fields_and_types_are_refused_as_protobuf_does() -> None:
    with pytest.raises(ValueError, match='has no "bogus" field'):
        rpc.TypedData(bogus=1)
    with pytest.raises(TypeError):
        rpc.RpcHttp(status_code=200)  # a string field
    with pytest.raises(TypeError):
        rpc.ParameterBinding(data="not a TypedData")


def test_messages_survive_the_pipe() -> None:
    message = rpc.StreamingMessage(
        request_id="1",
        invocation_response=rpc.InvocationResponse(
            invocation_id="i",
            return_value=rpc.TypedData(json="[1]"),
            result=rpc.StatusResult(status=rpc.StatusResult.Success),
        ),
    )
    copy = pickle.loads(pickle.dumps(message))
    assert copy == message
    assert copy.WhichOneof("content") == "invocation_response"
