"""Schemathesis against /api/openapi.json on the local host: no 5xx, every 4xx an ErrorBody,
and every answer as the document describes it (status codes, content types, schemas, headers).

Runs under AUTH_MODE=easyauth as one owner of its own, with a small quota, so the jobs it starts
are few, are its own, and the 429 path is fuzzed too. Every request carries the host's function
key, which the fuzzer leaves alone (no generated values for the document's security scheme): a
request without it is refused by the host (401, empty body), never reaches the app, and is not
what this test is about. Bounded: MAX_EXAMPLES an operation, positive and negative cases mixed
(about 10 s in all).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
import schemathesis
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.openapi import paths
from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.domain.models import ErrorBody
from shared.settings import ANALYSES_TABLE
from tests.app_env import APP, KEY_HEADER, app_folder, app_settings, key_header
from tests.e2e.test_analysis_http import MANAGEMENT_MARKERS

ROOT = Path(__file__).resolve().parents[2]
HUB = "StockMemoFuzz"
MAX_EXAMPLES = 100
OWNER = str(uuid.uuid4())
PRINCIPAL = {
    "X-MS-CLIENT-PRINCIPAL": base64.b64encode(
        json.dumps({"claims": [{"typ": "oid", "val": OWNER}]}).encode()
    ).decode()
}
# Headers that frame the HTTP message itself; a made-up value is the transport's business.
FRAMING_HEADERS = {
    "content-length", "transfer-encoding", "host", "connection", "expect", "upgrade", "te",
    "trailer", "keep-alive", "proxy-connection",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzz_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    root = app_folder(tmp_path_factory.mktemp("fuzz_app"), HUB)
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(
            patch, azurite.connection_string, AUTH_MODE="easyauth", ANALYSES_PER_HOUR="3"
        ):
            with DevHost(APP, root=root, port=0) as running:
                yield running
                wait_for_jobs(azurite)


def wait_for_jobs(azurite: Azurite, timeout: float = 60) -> None:
    """Leave nothing running for the modules after this one."""
    table = TableServiceClient.from_connection_string(
        azurite.connection_string).get_table_client(ANALYSES_TABLE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            open_jobs = list(table.query_entities(
                "PartitionKey eq @o and RowKey ge 'job_' and RowKey lt 'job`' "
                "and (Status eq 'queued' or Status eq 'running')", parameters={"o": OWNER}))
        except ResourceNotFoundError:  # no job was ever written
            return
        if not open_jobs:
            return
        time.sleep(0.1)
    raise AssertionError("the fuzzed jobs did not finish")


@pytest.fixture(scope="module")
def api_schema(fuzz_host: DevHost) -> schemathesis.BaseSchema:
    """The document as the running app serves it."""
    url = f"{fuzz_host.base_url}/api/openapi.json"
    schema = schemathesis.openapi.from_url(url, headers=key_header(fuzz_host))
    schema.config.generation.update(with_security_parameters=False)  # the real key goes along
    return schema


def reaches_the_app(case: schemathesis.Case) -> bool:
    """Whether the request gets past the local host's HTTP layer to a route of the app.

    An id that is empty, a dot segment, or holds a slash or a control character is answered by
    the host's router (a bare 404); a header value with a control character other than a tab
    (DEL included), or a made-up framing header (an empty Content-Length), by its HTTP parser (a
    bare 400). None of these is the app's answer, so such cases are not sent.
    """
    ids = [unquote(str(v)) for v in (case.path_parameters or {}).values()]  # sent encoded
    routable = all(v not in ("", ".", "..") and "/" not in v and v.isprintable() for v in ids)
    headers = case.headers or {}
    parsable = all(ch == "\t" or 0x20 <= ord(ch) != 0x7F for v in headers.values()
                   for ch in str(v))
    framed = not {name.lower() for name in headers} & FRAMING_HEADERS
    return routable and parsable and framed


# One test per operation of the document (schemathesis' own pytest loader cannot read a
# fixture under pytest 9, so the cases come from each operation's Hypothesis strategy).
OPERATIONS = [
    (method.upper(), path) for path, item in paths().items() for method in item
    if method != "parameters"
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_keeps_its_document(
    fuzz_host: DevHost, api_schema: schemathesis.BaseSchema, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    headers = {**PRINCIPAL, **key_header(fuzz_host)}
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        assume(reaches_the_app(case))
        assert KEY_HEADER not in {name.lower() for name in case.headers or {}}
        response = case.call(headers=headers, timeout=15)
        case.validate_response(response, checks=CHECKS)
        assert not any(marker in response.text for marker in MANAGEMENT_MARKERS)
        if 400 <= response.status_code < 500:
            error = ErrorBody.model_validate(response.json()).error
            assert error.code and error.message

    call()
