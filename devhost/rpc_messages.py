"""The FunctionRpc messages the Python runtime reads and builds, as small classes.

The Functions host and its Python worker speak gRPC with the messages of `FunctionRpc.proto`
(Azure/azure-functions-language-worker-protobuf). `azure_functions_runtime` does not import them:
the host side hands it a module of message classes as `properties["protos"]` at worker init, and
the runtime builds its answers from that. This module is that module for devhost: the messages
and fields the runtime touches (grep `protos\\.` in its source), with the behaviour of protobuf
messages that it relies on:

- fields are declared; an unknown field name in the constructor raises ValueError;
- an unset field reads as its default (`""`, `0`, `False`, an empty message, list or map), so
  `request.trace_context.trace_parent` is `""` when the host sent no trace context;
- `None` in the constructor leaves a field unset, as protobuf's Python constructor does;
- `WhichOneof(group)` names the member of a oneof that is set, and setting one clears the others;
- enum values are plain ints, reachable on the message class (`StatusResult.Success`) and on the
  enum (`RpcHttpCookie.SameSite.Lax`), and a string names a value in a constructor;
- `google.protobuf.Duration` fields take a `timedelta`, as protobuf 5 does.
Every message pickles, so the host and its worker processes exchange them over a pipe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, ClassVar


class EnumType:
    """A protobuf enum: values by name as attributes (`SameSite.Lax`), `Name()` and `Value()`."""

    def __init__(self, name: str, values: Mapping[str, int]) -> None:
        self._enum_name = name
        self._values = dict(values)
        for key, number in self._values.items():
            setattr(self, key, number)

    def Name(self, number: int) -> str:  # noqa: N802 - protobuf's spelling
        for key, value in self._values.items():
            if value == number:
                return key
        raise ValueError(f"Enum {self._enum_name} has no name defined for value {number!r}")

    def Value(self, name: str) -> int:  # noqa: N802 - protobuf's spelling
        try:
            return self._values[name]
        except KeyError:
            raise ValueError(
                f"Enum {self._enum_name} has no value defined for name {name!r}"
            ) from None

    def coerce(self, value: Any) -> int:
        if isinstance(value, str):
            return self.Value(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{value!r} has type {type(value).__name__}, but expected one of: int")
        return value


class Duration:
    """`google.protobuf.Duration`: seconds and nanos."""

    def __init__(self, seconds: int = 0, nanos: int = 0) -> None:
        self.seconds = seconds
        self.nanos = nanos

    @classmethod
    def from_timedelta(cls, value: timedelta) -> Duration:
        micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
        seconds, rest = divmod(micros, 1_000_000)
        return cls(seconds, rest * 1000)

    def ToTimedelta(self) -> timedelta:  # noqa: N802 - protobuf's spelling
        return timedelta(seconds=self.seconds, microseconds=self.nanos // 1000)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and (self.seconds, self.nanos) == (
            other.seconds,
            other.nanos,
        )

    def __repr__(self) -> str:
        return f"Duration(seconds={self.seconds}, nanos={self.nanos})"


class Timestamp(Duration):
    """`google.protobuf.Timestamp` (seconds since the epoch), for NullableTimestamp."""


# Field kinds: a scalar's Python type, "enum", "message", "duration", "repeated", "map".
_SCALARS: dict[str, tuple[tuple[type, ...], Any]] = {
    "string": ((str,), ""),
    "bytes": ((bytes,), b""),
    "bool": ((bool,), False),
    "int": ((int,), 0),
    "double": ((float, int), 0.0),
}


class Field:
    def __init__(
        self,
        kind: str,
        target: Any = None,
        *,
        repeated: bool = False,
        map_of: bool = False,
        oneof: str | None = None,
    ) -> None:
        self.kind = kind  # "string" | "bytes" | "bool" | "int" | "double" | "enum" | "message"
        self.target = target  # the enum or message class
        self.repeated = repeated
        self.map_of = map_of
        self.oneof = oneof

    def default(self) -> Any:
        if self.repeated:
            return []
        if self.map_of:
            return {}
        if self.kind == "message":
            return self.target()
        if self.kind == "enum":
            return 0
        if self.kind == "duration":
            return Duration()
        return _SCALARS[self.kind][1]

    def coerce(self, name: str, value: Any) -> Any:
        if self.repeated:
            if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                raise TypeError(f"field {name} is repeated; got {type(value).__name__}")
            return [self._one(name, item) for item in value]
        if self.map_of:
            if not isinstance(value, Mapping):
                raise TypeError(f"field {name} is a map; got {type(value).__name__}")
            return {_key(name, k): self._one(name, v) for k, v in value.items()}
        return self._one(name, value)

    def _one(self, name: str, value: Any) -> Any:
        if self.kind == "message":
            if not isinstance(value, self.target):
                raise TypeError(
                    f"field {name}: expected {self.target.__name__}, got {type(value).__name__}"
                )
            return value
        if self.kind == "enum":
            return self.target.coerce(value)
        if self.kind == "duration":
            if isinstance(value, timedelta):
                return Duration.from_timedelta(value)
            if isinstance(value, Duration):
                return value
            raise TypeError(f"field {name}: expected a timedelta, got {type(value).__name__}")
        types, _ = _SCALARS[self.kind]
        if isinstance(value, bool) and self.kind in ("int", "double"):
            raise TypeError(f"field {name}: {value!r} has type bool, but expected {self.kind}")
        if not isinstance(value, types):
            raise TypeError(
                f"field {name}: {value!r} has type {type(value).__name__}, "
                f"but expected {self.kind}"
            )
        return float(value) if self.kind == "double" else value  # type: ignore[arg-type]


def _key(name: str, key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"field {name}: map keys are strings, got {type(key).__name__}")
    return key


class Message:
    """Base of every message: declared fields, defaults for unset ones, oneofs."""

    FIELDS: ClassVar[dict[str, Field]] = {}

    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "_set", {})
        for name, value in values.items():
            if name not in self.FIELDS:
                raise ValueError(f'Protocol message {type(self).__name__} has no "{name}" field.')
            if value is not None:
                setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        fields = type(self).FIELDS
        if name.startswith("_") or name not in fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        stored = self._set
        if name in stored:
            return stored[name]
        field = fields[name]
        value = field.default()
        if field.repeated or field.map_of:  # protobuf keeps the container it hands out
            stored[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        field = type(self).FIELDS.get(name)
        if field is None:
            raise AttributeError(f'Protocol message {type(self).__name__} has no "{name}" field.')
        coerced = field.coerce(name, value)
        if field.oneof is not None:
            for other, spec in type(self).FIELDS.items():
                if spec.oneof == field.oneof and other != name:
                    self._set.pop(other, None)
        self._set[name] = coerced

    def HasField(self, name: str) -> bool:  # noqa: N802 - protobuf's spelling
        field = type(self).FIELDS.get(name)
        if field is None or field.repeated or field.map_of:
            if name in {f.oneof for f in type(self).FIELDS.values()}:
                return self.WhichOneof(name) is not None
            raise ValueError(f'Protocol message {type(self).__name__} has no singular "{name}"')
        return name in self._set

    def WhichOneof(self, group: str) -> str | None:  # noqa: N802 - protobuf's spelling
        members = [n for n, f in type(self).FIELDS.items() if f.oneof == group]
        if not members:
            raise ValueError(f'Protocol message has no "{group}" field.')
        return next((n for n in members if n in self._set), None)

    def _present(self) -> dict[str, Any]:
        """Set fields, less scalars and containers at their default (proto3 has no presence
        for those, so protobuf's equality ignores them)."""
        fields = type(self).FIELDS
        return {
            name: value
            for name, value in self._set.items()
            if fields[name].kind == "message" and not (fields[name].repeated or fields[name].map_of)
            or value != fields[name].default()
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and type(other) is type(self) and (
            self._present() == other._present()
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like protobuf messages

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._set.items())
        return f"{type(self).__name__}({shown})"

    def __getstate__(self) -> dict[str, Any]:
        return dict(self._set)

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "_set", dict(state))


def _message(name: str, fields: dict[str, Field], **enums: EnumType) -> Any:
    """A message class; its enums' values are also attributes of the class, as in protobuf."""
    namespace: dict[str, Any] = {"FIELDS": fields, "__module__": __name__, "__qualname__": name}
    for enum_name, enum in enums.items():
        clash = set(enum._values) & set(fields)
        assert not clash, f"{name}: enum values {clash} would hide fields"
        namespace[enum_name] = enum
        namespace.update(enum._values)
    return type(name, (Message,), namespace)


def _s(oneof: str | None = None) -> Field:
    return Field("string", oneof=oneof)


# ---- enums -------------------------------------------------------------------------------------

StatusEnum = EnumType("Status", {"Failure": 0, "Success": 1, "Cancelled": 2})
DirectionEnum = EnumType("Direction", {"in": 0, "out": 1, "inout": 2})
DataTypeEnum = EnumType("DataType", {"undefined": 0, "string": 1, "binary": 2, "stream": 3})
SameSiteEnum = EnumType("SameSite", {"None": 0, "Lax": 1, "Strict": 2, "ExplicitNone": 3})
RetryStrategyEnum = EnumType("RetryStrategy", {"exponential_backoff": 0, "fixed_delay": 1})
LevelEnum = EnumType(
    "Level",
    {"Trace": 0, "Debug": 1, "Information": 2, "Warning": 3, "Error": 4, "Critical": 5, "None": 6},
)

# ---- shared/NullableTypes.proto ----------------------------------------------------------------

NullableString = _message("NullableString", {"value": _s()})
NullableDouble = _message("NullableDouble", {"value": Field("double")})
NullableBool = _message("NullableBool", {"value": Field("bool")})
NullableTimestamp = _message("NullableTimestamp", {"value": Field("message", Timestamp)})

# ---- data --------------------------------------------------------------------------------------

RpcException = _message(
    "RpcException",
    {
        "source": _s(),
        "stack_trace": _s(),
        "message": _s(),
        "is_user_exception": Field("bool"),
        "type": _s(),
    },
)
CollectionString = _message("CollectionString", {"string": Field("string", repeated=True)})
CollectionBytes = _message("CollectionBytes", {"bytes": Field("bytes", repeated=True)})
CollectionDouble = _message("CollectionDouble", {"double": Field("double", repeated=True)})
CollectionSInt64 = _message("CollectionSInt64", {"sint64": Field("int", repeated=True)})
ModelBindingData = _message(
    "ModelBindingData",
    {"version": _s(), "source": _s(), "content_type": _s(), "content": Field("bytes")},
)
CollectionModelBindingData = _message(
    "CollectionModelBindingData",
    {"model_binding_data": Field("message", ModelBindingData, repeated=True)},
)
RpcHttpCookie = _message(
    "RpcHttpCookie",
    {
        "name": _s(),
        "value": _s(),
        "domain": Field("message", NullableString),
        "path": Field("message", NullableString),
        "expires": Field("message", NullableTimestamp),
        "secure": Field("message", NullableBool),
        "http_only": Field("message", NullableBool),
        "same_site": Field("enum", SameSiteEnum),
        "max_age": Field("message", NullableDouble),
    },
    SameSite=SameSiteEnum,
)


class TypedData(Message):
    """One value crossing the host/worker boundary; exactly one member of `data` is set."""

    FIELDS: ClassVar[dict[str, Field]] = {}  # filled below: `http` refers to RpcHttp


RpcHttp = _message(
    "RpcHttp",
    {
        "method": _s(),
        "url": _s(),
        "headers": Field("string", map_of=True),
        "body": Field("message", TypedData),
        "params": Field("string", map_of=True),
        "status_code": _s(),
        "query": Field("string", map_of=True),
        "enable_content_negotiation": Field("bool"),
        "rawBody": Field("message", TypedData),
        "cookies": Field("message", RpcHttpCookie, repeated=True),
        "nullable_headers": Field("message", NullableString, map_of=True),
        "nullable_params": Field("message", NullableString, map_of=True),
        "nullable_query": Field("message", NullableString, map_of=True),
    },
)
TypedData.FIELDS = {
    "string": _s("data"),
    "json": _s("data"),
    "bytes": Field("bytes", oneof="data"),
    "stream": Field("bytes", oneof="data"),
    "http": Field("message", RpcHttp, oneof="data"),
    "int": Field("int", oneof="data"),
    "double": Field("double", oneof="data"),
    "collection_bytes": Field("message", CollectionBytes, oneof="data"),
    "collection_string": Field("message", CollectionString, oneof="data"),
    "collection_double": Field("message", CollectionDouble, oneof="data"),
    "collection_sint64": Field("message", CollectionSInt64, oneof="data"),
    "model_binding_data": Field("message", ModelBindingData, oneof="data"),
    "collection_model_binding_data": Field("message", CollectionModelBindingData, oneof="data"),
}
RpcSharedMemory = _message(
    "RpcSharedMemory",
    {"name": _s(), "offset": Field("int"), "count": Field("int"), "type": Field("int")},
)
ParameterBinding = _message(
    "ParameterBinding",
    {
        "name": _s(),
        "data": Field("message", TypedData, oneof="rpc_data"),
        "rpc_shared_memory": Field("message", RpcSharedMemory, oneof="rpc_data"),
    },
)

# ---- results and metadata ----------------------------------------------------------------------

RpcLog = _message(
    "RpcLog",
    {
        "invocation_id": _s(),
        "category": _s(),
        "level": Field("enum", LevelEnum),
        "message": _s(),
        "event_id": _s(),
        "exception": Field("message", RpcException),
        "properties": _s(),
    },
    Level=LevelEnum,
)
StatusResult = _message(
    "StatusResult",
    {
        "status": Field("enum", StatusEnum),
        "result": _s(),
        "exception": Field("message", RpcException),
        "logs": Field("message", RpcLog, repeated=True),
    },
    Status=StatusEnum,
)
BindingInfo = _message(
    "BindingInfo",
    {
        "type": _s(),
        "direction": Field("enum", DirectionEnum),
        "data_type": Field("enum", DataTypeEnum),
        "properties": Field("string", map_of=True),
    },
    Direction=DirectionEnum,
    DataType=DataTypeEnum,
)
RpcRetryOptions = _message(
    "RpcRetryOptions",
    {
        "max_retry_count": Field("int"),
        "delay_interval": Field("duration"),
        "minimum_interval": Field("duration"),
        "maximum_interval": Field("duration"),
        "retry_strategy": Field("enum", RetryStrategyEnum),
    },
    RetryStrategy=RetryStrategyEnum,
)
RpcFunctionMetadata = _message(
    "RpcFunctionMetadata",
    {
        "name": _s(),
        "directory": _s(),
        "script_file": _s(),
        "entry_point": _s(),
        "bindings": Field("message", BindingInfo, map_of=True),
        "is_proxy": Field("bool"),
        "status": Field("message", StatusResult),
        "language": _s(),
        "raw_bindings": Field("string", repeated=True),
        "function_id": _s(),
        "managed_dependency_enabled": Field("bool"),
        "retry_options": Field("message", RpcRetryOptions),
        "properties": Field("string", map_of=True),
    },
)
WorkerMetadata = _message(
    "WorkerMetadata",
    {
        "runtime_name": _s(),
        "runtime_version": _s(),
        "worker_version": _s(),
        "worker_bitness": _s(),
        "custom_properties": Field("string", map_of=True),
    },
)
RpcTraceContext = _message(
    "RpcTraceContext",
    {"trace_parent": _s(), "trace_state": _s(), "attributes": Field("string", map_of=True)},
)
RetryContext = _message(
    "RetryContext",
    {
        "retry_count": Field("int"),
        "max_retry_count": Field("int"),
        "exception": Field("message", RpcException),
    },
)

# ---- requests and responses --------------------------------------------------------------------

WorkerInitRequest = _message(
    "WorkerInitRequest",
    {
        "host_version": _s(),
        "capabilities": Field("string", map_of=True),
        "worker_directory": _s(),
        "function_app_directory": _s(),
    },
)
WorkerInitResponse = _message(
    "WorkerInitResponse",
    {
        "worker_version": _s(),
        "capabilities": Field("string", map_of=True),
        "result": Field("message", StatusResult),
        "worker_metadata": Field("message", WorkerMetadata),
    },
)
FunctionsMetadataRequest = _message("FunctionsMetadataRequest", {"function_app_directory": _s()})
FunctionMetadataResponse = _message(
    "FunctionMetadataResponse",
    {
        "function_metadata_results": Field("message", RpcFunctionMetadata, repeated=True),
        "result": Field("message", StatusResult),
        "use_default_metadata_indexing": Field("bool"),
    },
)
FunctionLoadRequest = _message(
    "FunctionLoadRequest",
    {
        "function_id": _s(),
        "metadata": Field("message", RpcFunctionMetadata),
        "managed_dependency_enabled": Field("bool"),
    },
)
FunctionLoadResponse = _message(
    "FunctionLoadResponse",
    {
        "function_id": _s(),
        "result": Field("message", StatusResult),
        "is_dependency_downloaded": Field("bool"),
    },
)
InvocationRequest = _message(
    "InvocationRequest",
    {
        "invocation_id": _s(),
        "function_id": _s(),
        "input_data": Field("message", ParameterBinding, repeated=True),
        "trigger_metadata": Field("message", TypedData, map_of=True),
        "trace_context": Field("message", RpcTraceContext),
        "retry_context": Field("message", RetryContext),
    },
)
InvocationResponse = _message(
    "InvocationResponse",
    {
        "invocation_id": _s(),
        "output_data": Field("message", ParameterBinding, repeated=True),
        "return_value": Field("message", TypedData),
        "result": Field("message", StatusResult),
    },
)
FunctionEnvironmentReloadRequest = _message(
    "FunctionEnvironmentReloadRequest",
    {"environment_variables": Field("string", map_of=True), "function_app_directory": _s()},
)
FunctionEnvironmentReloadResponse = _message(
    "FunctionEnvironmentReloadResponse",
    {
        "worker_metadata": Field("message", WorkerMetadata),
        "capabilities": Field("string", map_of=True),
        "result": Field("message", StatusResult),
    },
)
StreamingMessage = _message(
    "StreamingMessage",
    {
        "request_id": _s(),
        "worker_init_request": Field("message", WorkerInitRequest, oneof="content"),
        "worker_init_response": Field("message", WorkerInitResponse, oneof="content"),
        "functions_metadata_request": Field("message", FunctionsMetadataRequest, oneof="content"),
        "function_metadata_response": Field("message", FunctionMetadataResponse, oneof="content"),
        "function_load_request": Field("message", FunctionLoadRequest, oneof="content"),
        "function_load_response": Field("message", FunctionLoadResponse, oneof="content"),
        "invocation_request": Field("message", InvocationRequest, oneof="content"),
        "invocation_response": Field("message", InvocationResponse, oneof="content"),
        "function_environment_reload_request": Field(
            "message", FunctionEnvironmentReloadRequest, oneof="content"
        ),
        "function_environment_reload_response": Field(
            "message", FunctionEnvironmentReloadResponse, oneof="content"
        ),
    },
)
