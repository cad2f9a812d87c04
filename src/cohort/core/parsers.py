"""Request body parsers: DRF's, with JSON nesting bounded.

Python's `json` decodes nested arrays and objects by recursion, so a body of 100,000 `[` raises
`RecursionError`, which DRF's parser does not catch (a 500). A body just under the interpreter's
limit parses, and then recurses again wherever the value is turned into text (an error message that
quotes it). So the parser refuses both with DRF's 400 `{"detail": "JSON parse error - ..."}`: too
deep to parse, or nested deeper than `MAX_DEPTH` once parsed. Cohort's own bodies nest two levels
(`{"rules": {...}}`); the form and multipart parsers yield flat strings and cannot nest at all.
The body's size is bounded before any parser runs (`cohort.core.middleware`).
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        if nesting_exceeds(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
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
