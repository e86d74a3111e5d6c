"""The pieces every path of /api/openapi.json is built from: references to the component
schemas, responses, headers and the parameters several routes share. `api/openapi.py` holds
the document and the analyses' paths, `api/openapi_batches.py` the batches'; both build here,
so one route cannot describe a shared parameter differently from another.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.analyses import DEFAULT_PAGE, IDEMPOTENCY_HEADER, MAX_PAGE
from shared.domain.models import Accepted, ErrorBody
from shared.store.admission import MAX_KEY_CHARS

REF = "#/components/schemas/{model}"
JSON = "application/json"
ID_PATTERN = "^[0-9a-f]{32}$"


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def json_answer(model: type[BaseModel], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(model)}}, **extra}


def error(description: str, **extra: Any) -> dict[str, Any]:
    return json_answer(ErrorBody, description, **extra)


def document_answer(description: str, *media_types: str) -> dict[str, Any]:
    """A 200 whose body is a document (Markdown, HTML, SVG), not JSON."""
    return {
        "description": description,
        "content": {media: {"schema": {"type": "string"}} for media in media_types},
    }


def header(description: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


def path_id(description: str) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": ID_PATTERN},
    }


RETRY_AFTER = header("Seconds to wait before asking again.", {"type": "integer", "minimum": 1})
UNAUTHENTICATED = error(
    "`unauthenticated`: AUTH_MODE=easyauth and no App Service Authentication principal."
)
LENGTH_REQUIRED = error("`length_required`: a chunked body without Content-Length is not read.")
BODY_TOO_LARGE = error("`body_too_large`: the body is over MAX_BODY_BYTES.")
IDEMPOTENCY_CONFLICT = error("`idempotency_conflict`: the key was used with another body.")
QUOTA_EXCEEDED_HEADERS = {"Retry-After": RETRY_AFTER}
STORAGE_FAILED = error("`storage_failed`: storage is unavailable; try again.")
IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Repeat a request safely: the same key with the same body answers "
        "the same id; with another body, 422 `idempotency_conflict`."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_CHARS,
        "pattern": f"^[ -~]{{1,{MAX_KEY_CHARS}}}$",
    },
}
LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
}
CURSOR = {
    "name": "cursor",
    "in": "query",
    "required": False,
    "description": "`next_cursor` of the previous page.",
    "schema": {"type": "string"},
}
FORMAT = {
    "name": "format",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["markdown", "html"], "default": "markdown"},
}


def accepted_answer(what: str) -> dict[str, Any]:
    """The 202 of a POST that starts work (`what`: "job", "batch"): Accepted, with Location and
    Retry-After, the same for a replay of its Idempotency-Key."""
    return json_answer(
        Accepted,
        f"Accepted (or the {what} an earlier request with this key started).",
        headers={
            "Location": header(f"The {what}'s status URL.", {"type": "string"}),
            "Retry-After": RETRY_AFTER,
        },
    )
