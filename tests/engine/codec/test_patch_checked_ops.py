"""Decoded ops are built without running ``validate_op`` again (``patch._checked_op``):
the decoder has checked every field already.  These tests pin that such ops are
exactly what the checking constructor would build, field for field and type for type."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import Document, Op
from cowrite.engine.codec import encode_patch
from cowrite.engine.codec import patch as patch_codec
from cowrite.engine.ops import validate_op

from .helpers import action, run_session


def assert_like_checked(ops: list[Op]) -> None:
    for op in ops:
        assert type(op) is Op
        fields = {f.name: getattr(op, f.name) for f in dataclasses.fields(Op)}
        rebuilt = Op(**fields)  # runs validate_op
        assert rebuilt == op and hash(rebuilt) == hash(op)
        assert {k: type(v) for k, v in fields.items()} == {
            f.name: type(getattr(rebuilt, f.name)) for f in dataclasses.fields(Op)
        }
        validate_op(op)
        assert all(type(p) is tuple and type(p[0]) is str and type(p[1]) is int for p in op.parents)


def decode_both(data: bytes) -> list[list[Op]]:
    out = [patch_codec.decode_general(data)]
    fast = patch_codec.decode_fast(data)
    if fast is not None:
        out.append(fast)
    return out


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=30))
def test_decoded_ops_are_what_the_checking_constructor_builds(actions: list[tuple[object, ...]]) -> None:
    docs = run_session(actions)
    for d in docs:
        for ops in decode_both(d.encode_patch()):
            assert ops == d.ops_since(())
            assert_like_checked(ops)


def test_keystrokes_of_every_kind_decode_to_checked_ops() -> None:
    a = Document("alice", clock=lambda: 1_700_000_000)
    b = a.fork("bob")
    a.insert(0, "héllo 👋 wörld")
    b.insert(0, "日本語")
    patches = []
    for edit in (
        lambda d: d.insert(3, "x"),
        lambda d: d.delete(2, 1),  # Delete key
        lambda d: [d.delete(7 - i, 1) for i in range(3)],  # Backspace held down
        lambda d: d.merge(b),
        lambda d: d.insert(1, "m"),  # a merge op: two parents
    ):
        v = a.version
        edit(a)
        patches.append(a.encode_patch(v))
    patches.append(encode_patch([]))
    for data in patches:
        for ops in decode_both(data):
            assert_like_checked(ops)
    assert any(op.kind == "del" and not op.fwd for data in patches for op in decode_both(data)[0])
