"""Domain errors, and their translation to HTTP at the edge.

Services raise the errors of `cohort.core.errors`; views never build error bodies
by hand. Everything a client can send ends as a JSON body of DRF's shapes: `{"detail": "..."}` or
`{"field": ["..."]}`. Anything unexpected is logged and answered as a JSON 500, never an HTML page.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cohort.core import errors

logger = logging.getLogger(__name__)


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def exception_handler(exc, context):
    if isinstance(exc, errors.Conflict):
        exc = ConflictError(str(exc))
    elif isinstance(exc, errors.Invalid):
        exc = exceptions.ValidationError({exc.field: [exc.message]})
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        # A row read by the view and gone when a service locks it again: deleted meanwhile.
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, IntegrityError):
        logger.warning("integrity error surfaced to a client: %s", exc)
        exc = ConflictError("The request conflicts with another change; try again.")
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error", exc_info=exc)
        response = Response({"detail": "Internal server error."}, status=500)
    return response
