"""Page-number pagination the way the reference clients read it.

The body is a bare JSON array; the total goes in `X-Result-Count` and the neighbours in an RFC 8288
`Link` header. Link URLs are percent-encoded, so they never hold a raw comma (the published client
splits the header on commas). Pages count from 1; `page_size` defaults to 10 and is clamped to 300;
a page past the end is 404 `{"detail": "Invalid page."}`, however large its number: a page whose
first row lies beyond a 64-bit offset (which SQLite and PostgreSQL could not even take) is refused
before any query, since no table holds that many rows.

A large list counts its total its own way (e.g. from maintained counts, or one COUNT) and hands it to
`page_bounds`, then reads the page where it lies (`page_of_counted_ids` reads a deep page from the end
of the order, walking back as few rows as the page is far from the end).
"""

from __future__ import annotations

import math
from urllib.parse import urlencode, urlsplit, urlunsplit

from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 300
MAX_OFFSET = 2**63 - 1  # LIMIT and OFFSET are signed 64-bit integers in SQLite and PostgreSQL


class LinkHeaderPagination(BasePagination):
    def read_request(self, request) -> None:
        self.request = request
        self.size = page_size(request)
        raw = request.query_params.get("page") or "1"
        try:
            self.number = int(raw)
        except ValueError:
            raise NotFound("Invalid page.") from None
        if self.number < 1 or self.number * self.size > MAX_OFFSET:
            raise NotFound("Invalid page.")

    def paginate_queryset(self, queryset, request, view=None):
        """The page's slice of `queryset` (for the small read-only endpoints)."""
        self.read_request(request)
        self.count = queryset.count()
        self.check_number()
        start = (self.number - 1) * self.size
        return list(queryset[start : start + self.size])

    def page_bounds(self, request, count: int) -> tuple[int, int]:
        """The positions [start, stop) of the requested page in a list of `count` rows (404 past the end)."""
        self.read_request(request)
        self.count = count
        self.check_number()
        start = (self.number - 1) * self.size
        return start, min(start + self.size, count)

    def page_of_counted_ids(self, queryset, request, count: int) -> list[int]:
        """The primary keys of the page of `queryset` (totally ordered), which holds `count` rows: read
        forwards, or backwards in the reversed order when the page is nearer the end."""
        start, stop = self.page_bounds(request, count)
        if start >= stop:
            return []
        if start > count - stop:
            pks = list(queryset.reverse().values_list("pk", flat=True)[count - stop : count - start])
            return pks[::-1]
        return list(queryset.values_list("pk", flat=True)[start:stop])

    def count_only(self, queryset, request) -> None:
        self.read_request(request)
        self.count = queryset.count()
        self.check_number()

    def check_number(self) -> None:
        if self.number > max(1, self.last_page()):
            raise NotFound("Invalid page.")

    def last_page(self) -> int:
        return max(1, math.ceil(self.count / self.size))

    def get_paginated_response(self, data) -> Response:
        return Response(data, headers=self.headers())

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "A page number within the paginated result set.",
                "schema": {"type": "integer"},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"Number of results to return per page (default {DEFAULT_PAGE_SIZE}, at most "
                f"{MAX_PAGE_SIZE}).",
                "schema": {"type": "integer"},
            },
        ]

    def headers(self) -> dict[str, str]:
        links = {"first": 1}
        if self.number > 1:
            links["prev"] = self.number - 1
        if self.number < self.last_page():
            links["next"] = self.number + 1
        links["last"] = self.last_page()
        return {
            "X-Result-Count": str(self.count),
            "Link": ", ".join(f'<{self.page_url(n)}>; rel="{rel}"' for rel, n in links.items()),
        }

    def page_url(self, number: int) -> str:
        scheme, netloc, path, _, _ = urlsplit(self.request.build_absolute_uri())
        params = [(k, v) for k, values in self.request.query_params.lists() for v in values if k != "page"]
        params.append(("page", str(number)))
        return urlunsplit((scheme, netloc, path, urlencode(params), ""))


def page_size(request) -> int:
    try:
        size = int(request.query_params.get("page_size", ""))
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE) if size > 0 else DEFAULT_PAGE_SIZE
