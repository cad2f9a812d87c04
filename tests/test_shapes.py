"""Declared shapes (`cohort.core.shapes`): the generated renderer, `select`, and the mistakes a
declaration is refused for, with a message that says what to write instead."""

from __future__ import annotations

import traceback

import pytest
from rest_framework import serializers

from cohort.core.rows import wire_uuid
from cohort.core.shapes import Column, Constant, Key, Nested, Shape, Template, documenting_serializer, read_only, select
from cohort.openstack.models import Instance, ServerGroup

TEXT = read_only()
MEMBER = Shape(Instance, "Member", (Key("name", Column("name"), TEXT),))


def shape(*keys: Key) -> Shape:
    return Shape(ServerGroup, "Thing", keys)


def test_the_renderer_follows_the_declaration():
    thing = shape(
        Key("url", Template("{api}things/{uuid}/"), TEXT),
        Key("uuid", Column("uuid", wire_uuid), TEXT),
        Key("label", Template("{name} ({uuid}) {{literal}}"), TEXT),
        Key("name", Column("name"), TEXT),
        Key("kind", Constant("thing"), TEXT),
        Key("members", Nested(MEMBER, via="server_group_id")),
        Key("nothing", Constant(None), TEXT),
    )
    assert thing.names == ("url", "uuid", "label", "name", "kind", "members", "nothing")
    assert thing.columns == ("uuid", "name")
    rows = [(7, "ab" * 16, "web"), (8, "cd" * 16, "db")]
    members = {7: [{"name": "vm"}]}
    assert thing.render(rows, "http://h/api/", members) == [
        {
            "url": f"http://h/api/things/{'ab' * 16}/",
            "uuid": "ab" * 16,
            "label": f"web ({'ab' * 16}) {{literal}}",
            "name": "web",
            "kind": "thing",
            "members": [{"name": "vm"}],
            "nothing": None,
        },
        {
            "url": f"http://h/api/things/{'cd' * 16}/",
            "uuid": "cd" * 16,
            "label": f"db ({'cd' * 16}) {{literal}}",
            "name": "db",
            "kind": "thing",
            "members": [],
            "nothing": None,
        },
    ]
    assert thing.source.count("wire_uuid") == 1  # a column's conversion runs once per row, however many keys use it


def test_a_failure_in_the_renderer_shows_the_generated_line():
    thing = shape(Key("uuid", Column("uuid", wire_uuid), TEXT))
    with pytest.raises(AttributeError) as failure:
        thing.render([(1, 12345)], "")
    assert "convert_0(c1)" in "".join(traceback.format_exception(failure.value))


def test_select_keeps_the_declared_order_and_ignores_unknown_names():
    thing = shape(Key("a", Constant(1), TEXT), Key("b", Constant(2), TEXT), Key("c", Constant(3), TEXT))
    found = thing.render([(1,)], "")
    assert select(thing, found, ["c", "a", "bogus"]) == [{"a": 1, "c": 3}]
    assert select(thing, found, ["bogus"]) == select(thing, found, []) == [{"a": 1, "b": 2, "c": 3}]


def test_the_documenting_serializer_has_a_field_per_key_in_order():
    thing = shape(
        Key("name", Column("name"), read_only(help_text="The name")),
        Key("members", Nested(MEMBER, via="server_group_id")),
    )
    documenting = documenting_serializer(thing)
    fields = documenting().fields
    assert documenting.__name__ == "ThingSerializer"
    assert list(fields) == ["name", "members"]
    assert fields["name"].read_only and fields["name"].help_text == "The name"
    assert isinstance(fields["members"], serializers.ListSerializer)
    assert type(fields["members"].child) is documenting_serializer(MEMBER)


@pytest.mark.parametrize(
    "keys, message",
    [
        (
            (Key("a", Template("{b}"), TEXT), Key("b", Constant(1), TEXT)),
            r"name `api` or a key whose source is a Column",
        ),
        ((Key("a", Template("{missing}"), TEXT),), r"Thing.a: the template names \{missing\}"),
        ((Key("a", Template("{name:>9}"), TEXT), Key("name", Column("name"), TEXT)), "without a format"),
        ((Key("a", Constant(1), TEXT), Key("a", Constant(2), TEXT)), r"keys \['a'\] are declared more than once"),
        ((Key("a", Constant(1)),), "give `schema`"),
        ((Key("a", Nested(shape(Key("m", Nested(MEMBER, via="x"))), via="x")),), "may not nest lists"),
    ],
)
def test_a_mistaken_declaration_is_refused_with_a_hint(keys, message):
    with pytest.raises(ValueError, match=message):
        shape(*keys)


def test_a_constant_is_a_json_scalar():
    with pytest.raises(TypeError, match="a Constant is None, a bool, an int or a str"):
        shape(Key("a", Constant([]), TEXT))
