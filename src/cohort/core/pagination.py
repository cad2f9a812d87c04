"""Page-number pagination the way the reference clients read it.

The body is a bare JSON array; the total goes in `X-Result-Count` and the neighbours in an RFC 8288
`Link` header. Link URLs are percent-encoded, so they never hold a raw comma (the published client
splits the header on commas).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from django.core.paginator import InvalidPage
from django.core.paginator import Paginator as DjangoPaginator
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

MAX_PAGE_SIZE = 300


class LinkHeaderPagination(PageNumberPagination):
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        page_size = self.get_page_size(request)
        paginator = DjangoPaginator(queryset, page_size)
        number = request.query_params.get(self.page_query_param) or 1
        try:
            self.page = paginator.page(number)
        except InvalidPage:
            raise NotFound("Invalid page.") from None
        return list(self.page)

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        try:
            size = int(raw)
        except (TypeError, ValueError):
            return self.page_size
        return min(size, self.max_page_size) if size > 0 else self.page_size

    def get_paginated_response(self, data) -> Response:
        return Response(data, headers=self.headers())

    def headers(self) -> dict[str, str]:
        page = self.page
        links = {"first": 1}
        if page.has_previous():
            links["prev"] = page.previous_page_number()
        if page.has_next():
            links["next"] = page.next_page_number()
        links["last"] = page.paginator.num_pages
        return {
            "X-Result-Count": str(page.paginator.count),
            "Link": ", ".join(f'<{self.page_url(n)}>; rel="{rel}"' for rel, n in links.items()),
        }

    def page_url(self, number: int) -> str:
        scheme, netloc, path, _, _ = urlsplit(self.request.build_absolute_uri())
        params = [(k, v) for k, values in self.request.query_params.lists() for v in values if k != "page"]
        params.append(("page", str(number)))
        return urlunsplit((scheme, netloc, path, urlencode(params), ""))


def count_headers(request, count: int) -> dict[str, str]:
    """The headers of a HEAD on a list: the count, and the links of the page asked for."""
    paginator = LinkHeaderPagination()
    paginator.paginate_queryset(range(count), request)
    return paginator.headers()
