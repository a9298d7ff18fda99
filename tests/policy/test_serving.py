"""policy/serving.py: the pack's server converts a resource's properties once, and every policy still gets the
same values (tests/policy/test_pack_server.py runs the whole server with it)."""

from __future__ import annotations

import pulumi_policy.policy
from google.protobuf import json_format, struct_pb2

from policy.serving import SharedMessageDicts, share_message_dicts


def _struct(value: dict[str, object]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def test_equal_messages_share_one_dict_equal_to_message_to_dict() -> None:
    shared = SharedMessageDicts(size=2)
    props = {"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"n": 3, "items": [1, "two", None, True]}}
    first = shared.MessageToDict(_struct(props))
    assert first == json_format.MessageToDict(_struct(props))
    assert shared.MessageToDict(_struct(props)) is first
    other = shared.MessageToDict(_struct({**props, "kind": "Stage"}))
    assert other is not first and other["kind"] == "Stage"


def test_least_recently_used_messages_are_dropped() -> None:
    shared = SharedMessageDicts(size=2)
    a, b, c = (_struct({"name": n}) for n in "abc")
    kept_a = shared.MessageToDict(a)
    shared.MessageToDict(b)
    assert shared.MessageToDict(a) is kept_a  # a is now the most recent
    shared.MessageToDict(c)  # drops b
    assert shared.MessageToDict(a) is kept_a
    assert shared.MessageToDict(b) == {"name": "b"}


def test_options_and_other_names_are_the_modules() -> None:
    shared = SharedMessageDicts()
    struct = _struct({"a": 1})
    assert shared.MessageToDict(struct, preserving_proto_field_name=True) == {"a": 1.0}
    assert shared.Parse is json_format.Parse


def test_installed_once_into_pulumi_policy() -> None:
    original = pulumi_policy.policy.json_format  # type: ignore[attr-defined]
    try:
        share_message_dicts()
        installed = pulumi_policy.policy.json_format  # type: ignore[attr-defined]
        share_message_dicts()
        assert isinstance(installed, SharedMessageDicts)
        assert pulumi_policy.policy.json_format is installed  # type: ignore[attr-defined]
    finally:
        pulumi_policy.policy.json_format = original  # type: ignore[attr-defined]
