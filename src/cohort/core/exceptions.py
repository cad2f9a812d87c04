"""The translation of errors to HTTP, at the edge (the errors themselves are in `cohort.core.errors`).

Services raise the domain errors of `cohort.core.errors`; views never build error bodies
by hand. Everything a client can send ends as a JSON body of DRF's shapes: `{"detail": "..."}` or
`{"field": ["..."]}`. Anything unexpected is logged and answered as a JSON 500, never an HTML page.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
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


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is larger than the limit."
    default_code = "payload_too_large"


def exception_handler(exc, context):
    if isinstance(exc, errors.Gone):
        exc = exceptions.NotFound()
    elif isinstance(exc, errors.Conflict):
        exc = ConflictError(str(exc))
    elif isinstance(exc, errors.Invalid):
        exc = exceptions.ValidationError({exc.field: [exc.message]})
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        # A row read by the view and gone when a service locks it again: deleted meanwhile.
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(f"Request data is larger than the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    elif isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ParseError(f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields.")
    elif isinstance(exc, TooManyFilesSent):
        exc = exceptions.ParseError(f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files.")
    elif isinstance(exc, IntegrityError):
        logger.warning("integrity error surfaced to a client: %s", exc)
        exc = ConflictError("The request conflicts with another change; try again.")
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error", exc_info=exc)
        response = Response({"detail": "Internal server error."}, status=500)
    return response
