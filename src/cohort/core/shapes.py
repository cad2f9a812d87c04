"""Response objects declared once, as data: each key, where its value comes from, how it is documented.

A `Shape` is a model and a tuple of `Key`s. A key names its source (a column, read by its ORM path
through an optional conversion; a constant; a template over other keys; a nested list of another
shape) and the read-only DRF field that documents it. Everything else is derived from that one
declaration: the columns to select, the renderer, `?field=` selection (`select`) and the serializer
that documents the shape in the OpenAPI schema (`documenting_serializer`), which never renders.

Objects are rendered from raw rows (`cohort.core.rows`), without model instances or serializers. The
renderer is generated from the declaration when the shape is built, the way `dataclasses` writes an
`__init__`: one tuple unpack per row, each conversion once, a dict literal with constant keys, which
is the function one would write by hand and as fast. Interpreting the declaration per row instead (a
loop over the keys, `dict(zip(...))`) made rendering 300 server groups 40 to 70% slower.
`Shape.source` holds the generated code, and tracebacks show its lines.
"""

from __future__ import annotations

import functools
import linecache
import string
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from rest_framework import serializers

from cohort.core.rows import fetch_in

FieldFactory = Callable[[], serializers.Field]


@dataclass(frozen=True)
class Column:
    """The value of one column: `path` as `values_list` takes it (`tenant__project__uuid`), through
    `convert` when given (a wire form such as `rows.wire_uuid`)."""

    path: str
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Constant:
    """The same JSON scalar in every object."""

    value: None | bool | int | str


@dataclass(frozen=True)
class Template:
    """Text made of other keys of the shape whose source is a column, and of `api` (the absolute URL
    of `/api/`): `Template("{api}projects/{project_uuid}/")`."""

    text: str


@dataclass(frozen=True)
class Nested:
    """A list of objects of another shape: the rows of `shape.model` whose `via` column holds this
    object's primary key, in `order_by` order. One query for a whole page of objects."""

    shape: Shape
    via: str
    order_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Key:
    """One key of an object: its name on the wire, its source, and a factory of the read-only DRF field
    that documents it (none for a nested list: its shape documents it)."""

    name: str
    source: Column | Constant | Template | Nested
    schema: FieldFactory | None = None


def read_only(field_class: type[serializers.Field] = serializers.CharField, **options) -> FieldFactory:
    """The documentation of a key: a factory of a read-only `field_class(**options)`."""
    return functools.partial(field_class, read_only=True, **options)


@dataclass(frozen=True)
class Shape:
    """An object on the wire: `keys` in order, read from `model`, documented as the OpenAPI component
    `component` with `description`."""

    model: type[models.Model]
    component: str
    keys: tuple[Key, ...]
    description: str = ""
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    columns: tuple[str, ...] = field(init=False, repr=False, compare=False)
    nested: tuple[Nested, ...] = field(init=False, repr=False, compare=False)
    source: str = field(init=False, repr=False, compare=False)
    render: Callable[..., list[dict]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(key.name for key in self.keys)
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"{self.component}: keys {duplicates} are declared more than once.")
        for key in self.keys:
            if key.schema is None and not isinstance(key.source, Nested):
                raise ValueError(f"{self.component}.{key.name}: give `schema`, the field that documents the key.")
            if isinstance(key.source, Nested) and key.source.shape.nested:
                raise ValueError(f"{self.component}.{key.name}: a nested shape may not nest lists itself.")
        columns, source, converters = _generate(self)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "nested", tuple(k.source for k in self.keys if isinstance(k.source, Nested)))
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "render", _compile(source, converters, f"<shape {self.component}>"))


def objects(shape: Shape, ids: Sequence[int], api: str, fields: Iterable[str] = ()) -> list[dict]:
    """The objects of the `shape.model` rows with primary keys `ids`, in that order: one query, and one
    more per nested list, whatever their number. `api` is the absolute URL of `/api/`; `fields`, see
    `select`."""
    fields = list(fields)
    position = {pk: index for index, pk in enumerate(ids)}
    rows = sorted(fetch_in(shape.model, ("pk", *shape.columns), "pk", ids), key=lambda row: position[row[0]])
    kept = _kept(shape, fields)  # a nested list that `fields` leaves out is not read (`?field=state`)
    nested = [
        _nested_lists(key.source, ids, api) if kept is None or key.name in kept else {}
        for key in shape.keys
        if isinstance(key.source, Nested)
    ]
    return select(shape, shape.render(rows, api, *nested), fields)


def select(shape: Shape, found: list[dict], fields: Iterable[str]) -> list[dict]:
    """`?field=`: only the keys named in `fields`, in the shape's order. Unknown names are ignored; if
    none is known, every key is kept."""
    kept = _kept(shape, fields)
    if kept is None:
        return found
    return [{name: item[name] for name in kept} for item in found]


def _kept(shape: Shape, fields: Iterable[str]) -> list[str] | None:
    """The keys `fields` keeps, in the shape's order; None when it names none (every key is kept)."""
    wanted = set(fields)
    return [name for name in shape.names if name in wanted] or None


def _nested_lists(nested: Nested, ids: Sequence[int], api: str) -> dict[int, list[dict]]:
    columns = (nested.via, *nested.shape.columns)
    rows = fetch_in(nested.shape.model, columns, nested.via, ids, order_by=nested.order_by)
    lists: dict[int, list[dict]] = defaultdict(list)
    for row, item in zip(rows, nested.shape.render(rows, api), strict=True):
        lists[row[0]].append(item)
    return lists


@functools.cache
def documenting_serializer(shape: Shape) -> type[serializers.Serializer]:
    """A serializer class that documents `shape` (component `shape.component`): one read-only field
    per key, in order. It only describes; `objects` renders."""
    fields = {}
    for key in shape.keys:
        if key.schema is None:
            fields[key.name] = documenting_serializer(key.source.shape)(many=True, read_only=True)
        else:
            fields[key.name] = key.schema()
    attributes = {"__doc__": shape.description or None, "__module__": __name__, **fields}
    return type(f"{shape.component}Serializer", (serializers.Serializer,), attributes)


# --- the generated renderer ------------------------------------------------------------------------------------


def _generate(shape: Shape) -> tuple[tuple[str, ...], str, dict[str, Callable]]:
    """The columns to select after the row's own key, the source of `render(rows, api, *nested)` and
    the converters it calls, by name.

    Each row is `(key, *columns)`: the key is the primary key (or, in a nested list, the `via`
    column), locals `c1`, `c2`, ... are the columns and `x0`, `x1`, ... their conversions."""
    columns: list[str] = []
    converters: dict[Callable, str] = {}
    conversions: dict[tuple[str, Callable], str] = {}
    prelude: list[str] = []
    values: dict[str, str] = {}  # key -> the expression of its value

    def column(path: str) -> str:
        if path not in columns:
            columns.append(path)
        return f"c{columns.index(path) + 1}"

    def convert(local: str, function: Callable) -> str:
        converter = converters.setdefault(function, f"convert_{len(converters)}")
        if (local, function) not in conversions:
            conversions[local, function] = f"x{len(conversions)}"
            prelude.append(f"{conversions[local, function]} = {converter}({local})")
        return conversions[local, function]

    for key in shape.keys:  # columns first: a template may name a key declared after it
        if isinstance(key.source, Column):
            local = column(key.source.path)
            values[key.name] = convert(local, key.source.convert) if key.source.convert else local
    column_keys = dict(values)
    nested_arguments: list[str] = []
    for key in shape.keys:
        source = key.source
        if isinstance(source, Constant):
            values[key.name] = _literal(shape, key.name, source.value)
        elif isinstance(source, Template):
            values[key.name] = _f_string(shape, key.name, source.text, column_keys)
        elif isinstance(source, Nested):
            nested_arguments.append(f"nested_{len(nested_arguments)}")
            values[key.name] = f"{nested_arguments[-1]}.get(c0, [])"
    unpack = ", ".join(f"c{index}" for index in range(len(columns) + 1))
    lines = [
        f"# {shape.component}, from rows of (the row's key, *columns):",
        *(f"#   c{index}: {path}" for index, path in enumerate(columns, 1)),
        *(f"# {name}: {_describe(function)}" for function, name in converters.items()),
        f"def render(rows, api{''.join(f', {argument}' for argument in nested_arguments)}):",
        "    objects = []",
        "    append = objects.append",
        f"    for {unpack} in rows:",
        *(f"        {line}" for line in prelude),
        "        append({",
        *(f"            {name!r}: {values[name]}," for name in (key.name for key in shape.keys)),
        "        })",
        "    return objects",
    ]
    namespace = {name: function for function, name in converters.items()}
    return tuple(columns), "\n".join(lines) + "\n", namespace


def _compile(source: str, namespace: dict[str, Callable], filename: str) -> Callable:
    namespace = dict(namespace)
    exec(compile(source, filename, "exec"), namespace)  # the source is generated by `_generate`
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return namespace["render"]


def _describe(function: Callable) -> str:
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", repr(function))
    return f"{module}.{name}" if module else name


def _literal(shape: Shape, name: str, value: object) -> str:
    if value is not None and type(value) not in (bool, int, str):
        raise TypeError(f"{shape.component}.{name}: a Constant is None, a bool, an int or a str, not {value!r}.")
    return repr(value)


def _f_string(shape: Shape, name: str, text: str, column_keys: dict[str, str]) -> str:
    parts = []
    for literal, placeholder, spec, conversion in string.Formatter().parse(text):
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if placeholder is None:
            continue
        if spec or conversion:
            raise ValueError(f"{shape.component}.{name}: write {{{placeholder}}} without a format or conversion.")
        if placeholder != "api" and placeholder not in column_keys:
            raise ValueError(
                f"{shape.component}.{name}: the template names {{{placeholder}}}; name `api` or a key whose "
                f"source is a Column: {sorted(column_keys)}."
            )
        parts.append("{" + ("api" if placeholder == "api" else column_keys[placeholder]) + "}")
    return "f" + repr("".join(parts))
