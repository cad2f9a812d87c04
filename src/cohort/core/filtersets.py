"""The base of every query-filter set: no NUL character reaches the database.

PostgreSQL's text type cannot hold U+0000, so a filter value with one makes the query fail (a 500);
SQLite takes it. Django's `CharField` refuses such a value, but a filter built on a plain form field
(a list of values, a choice, a method) does not. This base refuses a NUL in any filter's value,
whatever its field, with the form's error for that parameter (`{"<param>": ["Null characters are
not allowed."]}`, a 400), so a new filter cannot bring the 500 back. Every filter set of the API
derives from it, those the backend builds from a view's `filterset_fields` too (`FilterBackend`, the
API's filter backend); `tests/api/test_filters.py` walks every list endpoint with a NUL in each filter.
"""

from __future__ import annotations

from django.core.validators import ProhibitNullCharactersValidator
from django_filters import rest_framework

NULL_CHARACTER = "\x00"


class FilterSet(rest_framework.FilterSet):
    def is_valid(self) -> bool:
        super().is_valid()
        for name in self.filters:
            if name not in self.form.errors and any(NULL_CHARACTER in value for value in self._values(name)):
                validator = ProhibitNullCharactersValidator()
                self.form.add_error(name, validator.message)
        return not self.form.errors

    def _values(self, name: str) -> list[str]:
        getlist = getattr(self.data, "getlist", None)
        values = getlist(name) if getlist else [self.data.get(name)]
        return [value for value in values if isinstance(value, str)]


class FilterBackend(rest_framework.DjangoFilterBackend):
    filterset_base = FilterSet
