"""Request body parsers: DRF's, refusing what they would take in part or fail on without a field.

JSON. Python's `json` decodes nested arrays and objects by recursion, so a body of 100,000 `[`
raises `RecursionError`, which DRF's parser does not catch (a 500). A body just under the
interpreter's limit parses, and then recurses again wherever the value is turned into text (an error
message that quotes it). So the parser refuses both with DRF's 400 `{"detail": "JSON parse error -
..."}`: too deep to parse, or nested deeper than `MAX_DEPTH` once parsed. Cohort's own bodies nest
two levels (`{"rules": {...}}`). An integer of more digits than Python converts
(`sys.get_int_max_str_digits()`, 4,300) made the whole body a parse error that named no field; such
a number is kept aside while parsing and then reported against the key of the body that holds it
(`{"rules": ["A number of 10000 digits is out of range."]}`), as any other bad value would be.

Multipart. Django's parser takes the parts it finds and stops at the end of the body, so a body cut
before its closing boundary created whatever its first parts said. A multipart body must end with
its closing boundary (`--<boundary>--`); one that does not is a 400. (A body shorter than its
`Content-Length` is refused before any parser runs, and so is one over the size limit:
`cohort.core.middleware`.) The form parser's bodies have no end marker: only their length can say
they are whole, which the middleware checks.
"""

from __future__ import annotations

import codecs
import sys

from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.utils import json

MAX_DEPTH = 32


class TooLongNumber:
    """An integer literal of more digits than Python converts, kept aside to be named by its field."""

    def __init__(self, digits: int):
        self.digits = digits

    @property
    def message(self) -> str:
        return f"A number of {self.digits} digits is out of range."


def parse_integer(literal: str) -> int | TooLongNumber:
    limit = sys.get_int_max_str_digits()  # 0: no limit
    digits = len(literal.lstrip("-"))
    return TooLongNumber(digits) if limit and digits > limit else int(literal)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.load(codecs.getreader(encoding)(stream), parse_int=parse_integer)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if nesting_exceeds(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        refuse_too_long_numbers(data)
        return data


def nesting_exceeds(data, limit: int) -> bool:
    """Whether arrays and objects in `data` nest deeper than `limit` (a bare object is one level).
    Walks with a stack, not by recursion, for the same reason as above."""
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def first_too_long_number(value) -> TooLongNumber | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, TooLongNumber):
            return item
        if isinstance(item, dict | list):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return None


def refuse_too_long_numbers(data) -> None:
    """400 naming each key of the body whose value holds a too-long integer; a body that is not an
    object has no key to name, so its error is the body's."""
    if not isinstance(data, dict):
        found = first_too_long_number(data)
        if found:
            raise ParseError(f"JSON parse error - {found.message} The body must be a JSON object.")
        return
    errors = {}
    for key, value in data.items():
        found = first_too_long_number(value)
        if found:
            errors[key] = [found.message]
    if errors:
        raise ValidationError(errors)


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        _, params = parse_header_parameters(media_type or "")
        boundary = params.get("boundary", "").encode("ascii", "replace")
        body = request.body  # read and bounded by the middleware already
        if boundary and not ends_with_closing_boundary(body, boundary):
            raise ParseError("Multipart form parse error - the body ends before its closing boundary.")
        return super().parse(stream, media_type, parser_context)


def ends_with_closing_boundary(body: bytes, boundary: bytes) -> bool:
    """Whether `body` holds its close delimiter (RFC 2046: CRLF, `--`, the boundary, `--`; an
    epilogue may follow). A boundary never occurs inside a part, so finding it is enough."""
    closing = b"--" + boundary + b"--"
    return body.startswith(closing) or b"\r\n" + closing in body
