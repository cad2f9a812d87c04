"""Middleware of Cohort's own: bodies too large or cut short, and the admin's Content-Security-Policy.

Django bounds a body only where it reads one itself (`request.body`, form and multipart fields),
and DRF's JSON parser reads the raw stream, so a JSON body of any size was parsed. This middleware
refuses a request whose declared `Content-Length` is over `MAX_BODY_BYTES` (`COHORT_MAX_BODY_BYTES`)
with 413 `{"detail": "..."}`, before the body is read, on every path. Django never reads past the
declared length (a chunked body without one reads as empty), so nothing larger gets through.

A body shorter than its declared length (the client stopped sending, or the connection broke) is
not whole, and every parser would take what came as if it were: a form cut after `name=web&des` is
a valid form. So the body, bounded above, is read here and a short one is refused with 400 before
any view sees it. (A multipart body must also end with its closing boundary: `cohort.core.parsers`.)

Django 5.2 has no Content-Security-Policy support of its own (it comes in 6.0), so the admin's pages
get `ADMIN_CONTENT_SECURITY_POLICY` here; the admin has no inline script or style, so `'self'`
suffices. The API's JSON needs none, and the API docs' pages keep theirs out of it (Swagger UI has an
inline script). The other headers come from Django's SecurityMiddleware and XFrameOptionsMiddleware.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse, UnreadablePostError
from django.urls import reverse


def body_limits(get_response):
    def middleware(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads such a body as empty
        limit = settings.MAX_BODY_BYTES
        if length > limit:
            return JsonResponse({"detail": f"Request body is larger than the limit of {limit} bytes."}, status=413)
        if length:
            try:
                arrived = len(request.body)
            except UnreadablePostError:  # the connection broke while the body was read
                arrived = 0
            except RequestDataTooBig:  # Django's own limit, should it ever be set below ours
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                return JsonResponse({"detail": f"Request data is larger than the limit of {limit} bytes."}, status=413)
            if arrived < length:
                detail = f"The request body is incomplete: {arrived} of the {length} bytes of its Content-Length."
                return JsonResponse({"detail": detail}, status=400)
        return get_response(request)

    return middleware


def admin_content_security_policy(get_response):
    def middleware(request):
        response = get_response(request)
        if request.path.startswith(reverse("admin:index")):
            response.headers.setdefault("Content-Security-Policy", settings.ADMIN_CONTENT_SECURITY_POLICY)
        return response

    return middleware
