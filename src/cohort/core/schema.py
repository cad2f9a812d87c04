"""What the OpenAPI schema needs beyond what drf-spectacular reads from the views.

The views render through plain functions and custom fields, so the schema is told about them here:
the token scheme, the hyperlink field, the error bodies every operation may answer with, and a
post-processing hook that adds what DRF routes implicitly and drf-spectacular leaves out: a HEAD
(`<name>_count`) beside every list, and the `X-Result-Count` and `Link` headers of both. The schema
and docs views answer their errors in JSON, as all of /api/ does. Importing this module registers
the extensions.
"""

from __future__ import annotations

import copy

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework import serializers

from cohort.core.auth_views import PasswordSerializer
from cohort.core.renderers import JSONRenderer


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "cohort.core.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication with required prefix "Token"',
        }


class LinkFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "cohort.core.fields.LinkField"

    def map_serializer_field(self, auto_schema, direction):
        return build_basic_type(OpenApiTypes.URI)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)


def error(description: str, body=DetailSerializer) -> OpenApiResponse:
    return OpenApiResponse(response=body, description=description)


INVALID = error(
    'Invalid input: `{"<field>": ["<why>"]}` (`non_field_errors` for the object as a whole), or '
    '`{"detail": "<why>"}` for a body that is not valid JSON.',
    OpenApiTypes.OBJECT,
)
UNAUTHENTICATED = error("No credentials, or an unknown or expired token (`WWW-Authenticate: Token`).")
FORBIDDEN = error("The caller sees the object but may not do this to it.")
NOT_FOUND = error("No such object, or one the caller may not see.")
CONFLICT = error('The object is not in a state the operation may start from: `{"detail": "Valid states ..."}`.')
PAST_THE_END = error('A page past the end: `{"detail": "Invalid page."}`.')
SEEN = {401: UNAUTHENTICATED, 404: NOT_FOUND}
CHANGED = {**SEEN, 403: FORBIDDEN}


def list_responses(serializer) -> dict:
    return {200: serializer(many=True), 400: INVALID, 401: UNAUTHENTICATED, 404: PAST_THE_END}


def read_only_schema(serializer):
    """The list and retrieve of a read-only endpoint, with the errors they may answer."""
    return extend_schema_view(
        list=extend_schema(responses=list_responses(serializer)),
        retrieve=extend_schema(responses={200: serializer, **SEEN}),
    )


password_login_schema = extend_schema(
    summary="Get an API token",
    request=PasswordSerializer,
    responses={
        200: inline_serializer("AuthToken", {"token": serializers.CharField(read_only=True)}),
        400: INVALID,
        401: error("Wrong username or password, or an inactive user."),
        429: error(
            "Too many failed logins for this username or from this address; `Retry-After` gives the seconds "
            "until the next attempt is checked."
        ),
    },
)

LIST_HEADERS = {
    "X-Result-Count": {
        "description": "The number of items matching the query, over all pages.",
        "schema": {"type": "integer"},
    },
    "Link": {
        "description": 'RFC 8288 links to the `first`, `prev`, `next` and `last` pages (`rel="..."`).',
        "schema": {"type": "string"},
    },
}


def add_count_operations(result, generator, request, public):
    """Document the list headers, and add a HEAD `<name>_count` for every `<name>_list` operation."""
    for item in result.get("paths", {}).values():
        listing = item.get("get")
        if not listing or not listing.get("operationId", "").endswith("_list"):
            continue
        listing["responses"]["200"]["headers"] = copy.deepcopy(LIST_HEADERS)
        item["head"] = count_operation(listing)
    return result


def count_operation(listing: dict) -> dict:
    count = copy.deepcopy(listing)
    count["operationId"] = listing["operationId"].removesuffix("_list") + "_count"
    count["description"] = "Get number of items in the collection matching the request parameters."
    count["parameters"] = [p for p in count.get("parameters", []) if p["name"] != "field"]
    count["responses"] = {
        status: {"description": answer["description"]} for status, answer in listing["responses"].items()
    }
    count["responses"]["200"] = {"description": "No body.", "headers": copy.deepcopy(LIST_HEADERS)}
    return count


class JSONErrors:
    """Answer errors in JSON, like the rest of /api/, on views whose own renderer is YAML or HTML."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return response


class SchemaView(JSONErrors, SpectacularAPIView):
    pass


class SwaggerView(JSONErrors, SpectacularSwaggerView):
    pass


class RedocView(JSONErrors, SpectacularRedocView):
    template_name = "cohort/redoc.html"  # without the web fonts the stock page loads from a CDN
