"""JSON rendering with orjson.

The list path hands this renderer plain dicts of str/int/bool/None, so rendering a page of 300 full
objects is a single C call. DRF's own renderer does the same work in pure Python and is several
times slower on such pages.
"""

import orjson
from rest_framework import renderers


def _default(value):
    # DRF error details and lazy translations are str-like; anything else is a bug worth seeing.
    return str(value)


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(
            data, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
        )
