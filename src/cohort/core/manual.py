"""The manual at /docs/: the MkDocs site that `./dev docs` builds into `site/`, served beside the API.

A plain Django view over the built folder (`settings.MANUAL_ROOT`, `COHORT_MANUAL_DIR`, by default
`site/` in the directory Cohort runs from, where `./dev docs` puts it), looked up at each request, so
a manual built while `cohort serve` runs is served at once. Where it has not been built, /docs/
answers as any unknown path does: a JSON 404. The manual is public, as the OpenAPI schema is; its
pages get a Content-Security-Policy that lets nothing load from another host (the theme's scripts
are inline and its own, its icons are data: URIs, its search index is fetched from /docs/).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from django.views.static import serve

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@require_safe
def page(request: HttpRequest, path: str = "") -> HttpResponse:
    root = Path(settings.MANUAL_ROOT)
    if not (root / "index.html").is_file():
        raise Http404("The manual has not been built: run ./dev docs.")
    if path == "" or path.endswith("/"):
        path += "index.html"  # MkDocs writes each page as a folder with its index.html
    response = serve(request, path, document_root=root)  # refuses paths that leave the folder
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
