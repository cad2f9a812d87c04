"""Checking real answers against Cohort's own OpenAPI schema.

OpenAPI 3.0 schemas are JSON Schema but for `nullable`, which is turned into a `null` alternative
here; references resolve inside the schema document. Formats are checked strictly to the wire forms
of the contract: a `uuid` is 32 lowercase hex digits, a `date-time` is ISO 8601 in UTC with a `Z`, a
`uri` is absolute.
"""

from __future__ import annotations

import datetime
import re
from urllib.parse import urlsplit

import jsonschema

HEX_UUID = re.compile(r"^[0-9a-f]{32}$")
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("uuid")
def _uuid(value) -> bool:
    return not isinstance(value, str) or bool(HEX_UUID.match(value))


@FORMATS.checks("date-time")
def _datetime(value) -> bool:
    if not isinstance(value, str):
        return True
    return value.endswith("Z") and datetime.datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("uri")
def _uri(value) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme in ("http", "https") and urlsplit(value).netloc)


def json_schema(node):
    """An OpenAPI 3.0 schema (or a whole document) as plain JSON Schema."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def validator(document: dict, schema: dict) -> jsonschema.Draft202012Validator:
    root = {**schema, "components": json_schema(document["components"])}
    return jsonschema.Draft202012Validator(json_schema(root), format_checker=FORMATS)


def component(document: dict, name: str) -> dict:
    return document["components"]["schemas"][name]


def documented_response(document: dict, path: str, method: str, status: int) -> dict:
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, which is not documented: {sorted(responses)}"
    return responses[str(status)]


def assert_conforms(document: dict, path: str, method: str, status: int, body) -> None:
    """`body` (parsed JSON, or None when empty) is what the schema documents for that answer."""
    answer = documented_response(document, path, method, status)
    content = answer.get("content")
    if content is None:
        assert body is None, f"{method} {path} {status} documents no body, got {body!r}"
        return
    schema = content["application/json"]["schema"]
    errors = sorted(validator(document, schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
