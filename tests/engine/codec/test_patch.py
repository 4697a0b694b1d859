"""The binary document and patch encodings: round trips, compatibility, hostile input.

Run ``python tests/engine/test_encoding.py --regen`` to write the frozen fixtures of
the *current* format version (only when it is bumped).  Fixtures of older versions
are never rewritten: their bytes must keep decoding forever.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document
from cowrite.engine.branch import checkout
from cowrite.engine.codec import (
    FORMAT_VERSION,
    decode_document,
    decode_patch,
    encode_document,
    encode_patch,
)
from cowrite.engine.codec import patch as patch_codec
from cowrite.engine.causal_graph import Frontier
from cowrite.engine.ops import validate_op
from cowrite.engine.oplog import OpLog, copy_oplog

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "testdata" / "fixtures"
TRACES = Path(os.environ.get("COWRITE_TRACES", ROOT.parent / "shared" / "traces"))

# text that exercises multi-byte UTF-8: emoji (4 bytes), combining marks, CJK, ZWJ
ALPHABET = "ab \n" + "é" + "e\u0301" + "日本語" + "👋🏽" + "👩\u200d💻" + "ß"


# -- helpers ----------------------------------------------------------------------------


def reframe(data: bytes) -> bytes:
    """Recompute the trailing CRC so a mutation reaches the parser, not just the checksum."""
    body = data[:-4]
    return body + zlib.crc32(body).to_bytes(4, "little")


def raw_frame(data: bytes) -> bytes:
    """The same encoding with its body stored uncompressed (flags = 0), CRC fixed up."""
    magic, version, flags = data[:3], data[3], data[4]
    body = data[5:-4]
    if flags & 1:
        i = 0
        while body[i] & 0x80:
            i += 1
        body = zlib.decompress(body[i + 1 :])
    return reframe(magic + bytes([version, 0]) + body + b"\0\0\0\0")


def assert_same_doc(a: Document, b: Document) -> None:
    assert b.text == a.text
    assert b.version == a.version
    assert b.oplog.heads == a.oplog.heads
    assert b.branch.version == a.branch.version
    assert b.ops_since(()) == a.ops_since(())
    ca, cb = a.oplog.cg, b.oplog.cg
    assert (cb.starts, cb.parents, cb.entry_agent, cb.entry_seq, cb.agents, cb.next_lv) == (
        ca.starts,
        ca.parents,
        ca.entry_agent,
        ca.entry_seq,
        ca.agents,
        ca.next_lv,
    )
    assert (cb._seq_starts, cb._seq_ends, cb._seq_lvs) == (ca._seq_starts, ca._seq_ends, ca._seq_lvs)
    oa, ob = a.oplog, b.oplog
    assert (ob.op_starts, ob.op_kinds, ob.op_pos, ob.op_lens, ob.op_content) == (
        oa.op_starts,
        oa.op_kinds,
        oa.op_pos,
        oa.op_lens,
        oa.op_content,
    )
    assert (ob.time_starts, ob.time_values) == (oa.time_starts, oa.time_values)


def check_decode_is_safe(data: bytes, kind: str = "document") -> None:
    """Decoding must either give a usable result or raise DecodeError: nothing else."""
    try:
        if kind == "document":
            d = Document.decode(data, "checker")
        else:
            ops = decode_patch(data)
    except DecodeError:
        return
    if kind == "document":
        # a forged-but-consistent document must still be a working document
        d.ops_since(())
        d.encode()
        d.insert(0, "x")
    else:
        encode_patch(ops)


# a random editing session over a few replicas, with forks and merges
action = st.one_of(
    st.tuples(st.just("ins"), st.integers(0, 2), st.floats(0, 1), st.text(ALPHABET, min_size=1, max_size=8)),
    st.tuples(st.just("del"), st.integers(0, 2), st.floats(0, 1), st.integers(1, 5)),
    st.tuples(st.just("sync"), st.integers(0, 2), st.integers(0, 2)),
)


def run_session(actions: list[tuple[object, ...]]) -> list[Document]:
    docs = [Document(name) for name in ("alice", "bob", "日本")]
    for a in actions:
        if a[0] == "ins":
            d = docs[a[1]]  # type: ignore[index]
            d.insert(int(a[2] * len(d)), a[3])  # type: ignore[operator, arg-type]
        elif a[0] == "del":
            d = docs[a[1]]  # type: ignore[index]
            if len(d):
                pos = int(a[2] * (len(d) - 1))  # type: ignore[operator]
                d.delete(pos, min(a[3], len(d) - pos))  # type: ignore[type-var]
        else:
            docs[a[2]].merge(docs[a[1]])  # type: ignore[index]
    return docs


def small_doc() -> Document:
    """A fixed small document with two agents, concurrent edits and a merge.

    Its clock is fixed (times unknown) so its bytes never depend on when the test runs:
    hypothesis draws mutation offsets from their length and must see the same bytes."""
    a = Document("alice", clock=lambda: 0.0)
    a.insert(0, "héllo wörld 👋")
    b = a.fork("bob")
    a.insert(5, ", dear")
    a.delete(0, 1)
    a.insert(0, "H")
    b.insert(len(b), " 日本語 e\u0301")
    b.delete(12, 2)
    a.delete(len(a) - 1, 1)  # deletes the 👋 concurrently with bob: a double delete
    a.merge(b)
    return a


T0 = 1_700_000_000  # 2023-11-14T22:13:20Z


def fixture_times(n_lvs: int) -> tuple[list[int], list[int]]:
    """A fixed time column: a new time every 4 LVs, with a clock jumping back and an unknown."""
    starts = list(range(0, n_lvs, 4))
    values = []
    for k in range(len(starts)):
        if k % 5 == 3:
            values.append(0)  # unknown
        elif k % 5 == 4:
            values.append(T0 + 7 * k - 3600)  # a skewed clock: earlier than its predecessor
        else:
            values.append(T0 + 7 * k)
    return starts, values


def timed_small_doc() -> tuple[OpLog, str, Frontier]:
    """:func:`small_doc`'s history with :func:`fixture_times` (independent of any clock)."""
    d = small_doc()
    ol = copy_oplog(d.oplog)
    ol.time_starts, ol.time_values = fixture_times(len(ol))
    return ol, d.text, d.branch.version


def timed_encoding(kind: str) -> bytes:
    ol, text, version = timed_small_doc()
    return encode_document(ol, text, version) if kind == "document" else encode_patch(ol.ops_since(()))


def sample(kind: str, timed: bool) -> bytes:
    if timed:
        return timed_encoding(kind)
    d = small_doc()
    return d.encode() if kind == "document" else d.encode_patch()


# -- round trips -------------------------------------------------------------------------


def test_empty_document_round_trips() -> None:
    d = Document("a")
    d2 = Document.decode(d.encode())
    assert_same_doc(d, d2)
    assert d2.text == "" and d2.version == ()
    assert decode_patch(d.encode_patch()) == []


def test_small_document_round_trips() -> None:
    d = small_doc()
    d2 = Document.decode(d.encode(), "carol")
    assert_same_doc(d, d2)
    # the decoded document is live: it edits and merges like the original
    d2.insert(0, ">")
    d.merge(d2)
    assert d.text == d2.text == ">" + small_doc().text


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=40))
def test_random_documents_round_trip(actions: list[tuple[object, ...]]) -> None:
    for d in run_session(actions):
        data = d.encode()
        d2 = Document.decode(data, "zed")
        assert_same_doc(d, d2)
        assert str(checkout(d2.oplog, d2.branch.version).text) == d2.text
        assert d2.encode() == data  # canonical: re-encoding gives the same bytes


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=40))
def test_random_patches_round_trip_and_apply(actions: list[tuple[object, ...]]) -> None:
    docs = run_session(actions)
    a, b = docs[0], docs[1]
    ops = a.ops_since(())
    assert decode_patch(encode_patch(ops)) == ops
    full = a.encode_patch()
    b.apply_patch(full)
    a.apply_patch(b.encode_patch())
    assert a.text == b.text
    fresh = Document("peer")
    fresh.apply_patch(a.encode_patch())
    assert fresh.text == a.text


def test_concurrent_double_delete_in_one_op_run_round_trips() -> None:
    """Two agents delete the same character concurrently; their adjacent DEL_FWD ops share
    one op run (pos 0, length 2) in a one-character document.  That must still decode."""
    docs = run_session([("ins", 1, 0.0, "a"), ("sync", 1, 0), ("del", 0, 0.0, 1), ("del", 1, 0.0, 1), ("sync", 0, 1)])
    d = docs[1]
    assert (d.oplog.op_pos[-1], d.oplog.op_lens[-1]) == (0, 2) and d.text == ""
    assert_same_doc(d, Document.decode(d.encode()))


def test_incremental_patch_since_version() -> None:
    a = small_doc()
    b = Document.decode(a.encode(), "bob2")
    v = b.version
    a.insert(3, "🎉 new")
    a.delete(0, 2)
    patch = a.encode_patch(v)
    assert len(patch) < len(a.encode_patch())
    b.apply_patch(patch)
    assert b.text == a.text
    b.apply_patch(patch)  # idempotent
    assert b.text == a.text


def test_patch_keeps_backspace_runs_and_fwd_flags() -> None:
    d = Document("a")
    d.insert(0, "abcdef")
    for p in (5, 4, 3):  # backspace held down: one DEL_BACK run
        d.delete(p, 1)
    ops = d.ops_since(())
    assert decode_patch(encode_patch(ops)) == ops
    assert any(o.kind == "del" and not o.fwd for o in ops)


# -- hostile input -----------------------------------------------------------------------


@pytest.mark.parametrize("timed", [False, True])
@pytest.mark.parametrize("kind", ["document", "patch"])
def test_every_truncation_raises(kind: str, timed: bool) -> None:
    enc = sample(kind, timed)
    for data in (enc, raw_frame(enc)):
        for n in range(len(data)):
            with pytest.raises(DecodeError):
                (decode_document if kind == "document" else decode_patch)(data[:n])


@pytest.mark.parametrize("timed", [False, True])
@pytest.mark.parametrize("kind", ["document", "patch"])
def test_every_single_bit_flip_is_caught(kind: str, timed: bool) -> None:
    data = sample(kind, timed)
    decode = decode_document if kind == "document" else decode_patch
    for i in range(len(data) * 8):
        bad = bytearray(data)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(DecodeError):
            decode(bytes(bad))


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(4)
        i = rnd.randrange(len(b) + 1)
        if op == 0 and i < len(b):
            b[i] = rnd.randrange(256)
        elif op == 1:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3)))
        elif op == 2:
            del b[i : i + rnd.randint(1, 3)]
        elif i < len(b):
            b[i] = rnd.choice((0, 1, 0x7F, 0x80, 0xFF))
    return bytes(b)


@settings(max_examples=300)
@given(st.randoms(use_true_random=False), st.sampled_from(["document", "patch"]), st.booleans())
def test_random_mutations_never_crash(rnd: random.Random, kind: str, timed: bool) -> None:
    data = sample(kind, timed)
    bad = _mutate(data, rnd)
    if bad != data:  # the CRC catches these
        with pytest.raises(DecodeError):
            (decode_document if kind == "document" else decode_patch)(bad)


@settings(max_examples=1000)
@given(st.randoms(use_true_random=False), st.sampled_from(["document", "patch"]), st.booleans(), st.booleans())
def test_forged_mutations_with_valid_crc_never_crash(rnd: random.Random, kind: str, raw: bool, timed: bool) -> None:
    """Mutate the structure and fix the CRC: the parser itself must hold up."""
    data = sample(kind, timed)
    if raw:
        data = raw_frame(data)
    bad = _mutate(data[:-4], rnd)
    check_decode_is_safe(bad + zlib.crc32(bad).to_bytes(4, "little"), kind)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_random_bytes_raise(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_document(data)
    with pytest.raises(DecodeError):
        decode_patch(data)


@settings(max_examples=500)
@given(st.binary(max_size=300), st.sampled_from([b"CWD", b"CWP"]), st.integers(0, 1), st.sampled_from([1, FORMAT_VERSION]))
def test_random_bodies_with_valid_header_and_crc_never_crash(body: bytes, magic: bytes, flags: int, version: int) -> None:
    data = magic + bytes([version, flags]) + body
    data += zlib.crc32(data).to_bytes(4, "little")
    check_decode_is_safe(data, "document" if magic == b"CWD" else "patch")


@pytest.mark.parametrize("version", [0, FORMAT_VERSION + 1, 255])
def test_unknown_format_version_raises_clearly(version: int) -> None:
    for data, decode in ((small_doc().encode(), decode_document), (small_doc().encode_patch(), decode_patch)):
        bad = reframe(data[:3] + bytes([version]) + data[4:])
        with pytest.raises(DecodeError, match="format version"):
            decode(bad)


def test_wrong_kind_and_non_bytes_raise() -> None:
    d = small_doc()
    with pytest.raises(DecodeError, match="patch"):
        decode_document(d.encode_patch())
    with pytest.raises(DecodeError, match="document"):
        decode_patch(d.encode())
    with pytest.raises(DecodeError):
        decode_document("CWD not bytes")  # type: ignore[arg-type]
    assert Document.decode(bytearray(d.encode())).text == d.text


def test_unknown_flags_and_deflate_bomb_raise() -> None:
    data = small_doc().encode()
    with pytest.raises(DecodeError, match="flags"):
        decode_document(reframe(data[:4] + b"\x80" + data[5:]))
    # a deflated body claiming an absurd uncompressed size is refused before inflating
    bomb = b"CWD" + bytes([FORMAT_VERSION, 1]) + b"\xff\xff\xff\xff\x0f" + zlib.compress(b"\0" * 1000)
    with pytest.raises(DecodeError, match="size"):
        decode_document(bomb + zlib.crc32(bomb).to_bytes(4, "little"))


def test_semantically_inconsistent_documents_raise() -> None:
    d = small_doc()
    oplog, text, version = decode_document(d.encode())
    with pytest.raises(DecodeError, match="text"):  # too long for its history
        decode_document(encode_document(oplog, text + "x" * 100, version))
    with pytest.raises(DecodeError, match="LV"):  # version names an unknown op
        decode_document(encode_document(oplog, text, (len(oplog) + 5,)))
    with pytest.raises(DecodeError, match="frontier"):  # 0 is an ancestor of 1
        decode_document(encode_document(oplog, text, (0, 1)))
    # linear history: the length is checked exactly
    lin = Document("a")
    lin.insert(0, "hello")
    lin.delete(0, 2)
    ol, t, v = decode_document(lin.encode())
    with pytest.raises(DecodeError, match="text"):
        decode_document(encode_document(ol, t + "!", v))
    # an older version with its (shorter) text is fine
    assert decode_document(encode_document(ol, "hello", (4,)))[1] == "hello"


def test_bad_ops_in_forged_log_raise() -> None:
    ol = OpLog()
    ol.add_insert("a", 0, "hi")
    ol.op_pos[0] = 7  # an insert far beyond any possible text
    with pytest.raises(DecodeError):
        decode_document(encode_document(ol, "hi", ol.heads))


# -- hostile times sections (format version 2) ------------------------------------------


def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _zigzag(v: int) -> bytes:
    return _varint((v << 1) if v >= 0 else ((-v << 1) - 1))


def _section(pairs: list[tuple[int, int]], count: int | None = None) -> bytes:
    """A times section from raw (run length, time delta) pairs."""
    block = b"".join(_varint(n) + _zigzag(d) for n, d in pairs)
    return _varint(len(pairs) if count is None else count) + _varint(len(block)) + block


def _deltas(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(run length, time) runs as (run length, delta) pairs."""
    out = []
    prev = 0
    for n, t in runs:
        out.append((n, t - prev))
        prev = t
    return out


def _fixture_runs(kind: str) -> list[tuple[int, int]]:
    """The (run length, time) runs the timed sample's times section holds."""
    ol, _, _ = timed_small_doc()
    if kind == "document":
        ends = ol.time_starts[1:] + [len(ol)]
        return [(e - s, t) for s, e, t in zip(ol.time_starts, ends, ol.time_values)]
    runs: list[tuple[int, int]] = []
    for op in ol.ops_since(()):
        if runs and runs[-1][1] == op.time:
            runs[-1] = (runs[-1][0] + 1, op.time)
        else:
            runs.append((1, op.time))
    return runs


def _with_times(kind: str, section: bytes, version: int = FORMAT_VERSION) -> bytes:
    """The timed sample (uncompressed) with its times section replaced by ``section``."""
    data = raw_frame(timed_encoding(kind))
    body = data[5:-4]
    expected = _section(_deltas(_fixture_runs(kind)))
    assert body.endswith(expected)  # the times section is the last thing in the body
    return reframe(data[:3] + bytes([version, 0]) + body[: -len(expected)] + section + b"\0\0\0\0")


def _decode(kind: str, data: bytes) -> object:
    return decode_document(data) if kind == "document" else decode_patch(data)


@pytest.mark.parametrize("kind", ["document", "patch"])
def test_times_section_sanity(kind: str) -> None:
    runs = _fixture_runs(kind)
    assert len(runs) > 3 and sum(n for n, _ in runs) == (31 if kind == "document" else len(timed_small_doc()[0].ops_since(())))
    assert _with_times(kind, _section(_deltas(runs))) == raw_frame(timed_encoding(kind))
    _decode(kind, _with_times(kind, _section(_deltas(runs))))


@pytest.mark.parametrize("kind", ["document", "patch"])
def test_truncated_times_section_raises(kind: str) -> None:
    good = _section(_deltas(_fixture_runs(kind)))
    for k in range(len(good)):  # k = 0: a version-1 body in a version-2 frame
        with pytest.raises(DecodeError):
            _decode(kind, _with_times(kind, good[:k]))


@pytest.mark.parametrize("kind", ["document", "patch"])
def test_times_section_wrong_version_label_raises(kind: str) -> None:
    good = _section(_deltas(_fixture_runs(kind)))
    with pytest.raises(DecodeError, match="unexpected bytes"):  # v2 body labelled v1
        _decode(kind, _with_times(kind, good, version=1))


@pytest.mark.parametrize("kind", ["document", "patch"])
@pytest.mark.parametrize(
    "forge, match",
    [
        (lambda r: _section(_deltas(r), count=len(r) + 1), "truncated|claimed"),
        (lambda r: _section(_deltas(r), count=10**6), "claimed"),
        (lambda r: _section(_deltas(r), count=2**70), "claimed|malformed"),
        (lambda r: _section(_deltas(r), count=len(r) - 1), "unexpected bytes"),
        (lambda r: _section([]), "cover 0"),
        (lambda r: _section(_deltas(r[:-1] + [(r[-1][0] - 1, r[-1][1])])), "cover"),  # too few
        (lambda r: _section(_deltas(r[:-1])), "cover"),  # too few: a run missing
        (lambda r: _section(_deltas(r[:-1] + [(r[-1][0] + 1, r[-1][1])])), "cover more"),  # too many
        (lambda r: _section(_deltas(r + [(1, r[-1][1] + 1)])), "cover more"),  # an extra run
        (lambda r: _section(_deltas([(0, r[0][1])] + r)), "empty time run"),
        (lambda r: _section(_deltas([(r[0][0], -1)] + r[1:])), "out of range"),
        (lambda r: _section(_deltas([(r[0][0], 2**53)] + r[1:])), "out of range"),
        (lambda r: _section(_deltas([(r[0][0], 2**80)] + r[1:])), "out of range|malformed"),
        (lambda r: _section(_deltas([r[0], (r[1][0], r[0][1])] + r[2:])), "same time"),
        (lambda r: _section(_deltas(r)) + b"\0", "unexpected bytes"),
        (lambda r: _section(_deltas(r))[:-1], "truncated|cover|unexpected"),
        (lambda r: _varint(len(r)) + _varint(2**40) + _section(_deltas(r))[2:], "truncated"),
    ],
)
def test_bad_times_sections_raise(kind: str, forge: Callable[[list[tuple[int, int]]], bytes], match: str) -> None:
    bad = forge(_fixture_runs(kind))
    with pytest.raises(DecodeError, match=match):
        _decode(kind, _with_times(kind, bad))


def test_empty_document_times_section() -> None:
    ol = OpLog()
    data = raw_frame(encode_document(ol, "", ()))
    assert data[5:-4].endswith(_section([]))
    ol2, _, _ = decode_document(data)
    assert (ol2.time_starts, ol2.time_values) == ([], [])
    bad = reframe(data[:-4 - len(_section([]))] + _section([(1, 5)]) + b"\0\0\0\0")
    with pytest.raises(DecodeError, match="cover more"):
        decode_document(bad)
    assert decode_patch(encode_patch([])) == []


@settings(max_examples=500)
@given(st.sampled_from(["document", "patch"]), st.binary(max_size=40), st.integers(0, 40))
def test_random_times_sections_never_crash(kind: str, junk: bytes, count: int) -> None:
    bad = _with_times(kind, _varint(count) + _varint(len(junk)) + junk)
    check_decode_is_safe(bad, kind)
    check_decode_is_safe(_with_times(kind, junk), kind)


# -- the frozen fixtures: these bytes must decode forever ------------------------------
#
# v1-*.bin were written by format version 1 (no times) and are never rewritten.
# v2-*.bin hold the same history with fixture_times(); --regen rewrites only the
# fixtures of the current FORMAT_VERSION.

FIXTURE_TEXT = "H\u00e9llo, dear w\u00f6rld \u65e5\u672c\u8a9e e\u0301"
FIXTURE_VERSION = (("alice", 21), ("bob", 8))
FIXTURE_TIME_STARTS = [0, 4, 8, 12, 16, 20, 24, 28]
FIXTURE_TIME_VALUES = [T0, T0 + 7, T0 + 14, 0, T0 + 28 - 3600, T0 + 35, T0 + 42, T0 + 49]


def _write_fixtures() -> None:
    assert FORMAT_VERSION == 2, "add the new version's fixtures here; never rewrite older ones"
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for kind in ("document", "patch"):
        path = FIXTURES / f"v{FORMAT_VERSION}-{kind}.bin"
        path.write_bytes(timed_encoding(kind))
        print(f"wrote {path}")


def _oplog_columns(ol: OpLog) -> tuple[object, ...]:
    """Everything in an op log except its times."""
    cg = ol.cg
    return (
        cg.starts,
        cg.parents,
        cg.entry_agent,
        cg.entry_seq,
        cg.agents,
        cg.next_lv,
        cg.heads,
        ol.op_starts,
        ol.op_kinds,
        ol.op_pos,
        ol.op_lens,
        ol.op_content,
    )


def test_frozen_v1_document_fixture_decodes() -> None:
    data = (FIXTURES / "v1-document.bin").read_bytes()
    assert data[:4] == b"CWD\x01"
    d = Document.decode(data, "reader")
    assert d.text == FIXTURE_TEXT
    assert d.version == FIXTURE_VERSION
    assert str(checkout(d.oplog).text) == FIXTURE_TEXT  # the history still replays to it
    # exactly the history small_doc() makes, with every time unknown
    assert _oplog_columns(d.oplog) == _oplog_columns(small_doc().oplog)
    assert (d.oplog.time_starts, d.oplog.time_values) == ([0], [0])
    assert all(op.time == 0 for op in d.ops_since(()))
    # re-encoded as the current version, it keeps its (unknown) times
    d2 = Document.decode(d.encode())
    assert d2.encode()[:4] == bytes([*b"CWD", FORMAT_VERSION])
    assert_same_doc(d, d2)


def test_frozen_v1_patch_fixture_decodes() -> None:
    data = (FIXTURES / "v1-patch.bin").read_bytes()
    assert data[:4] == b"CWP\x01"
    ops = decode_patch(data)
    assert ops and all(op.time == 0 for op in ops)
    ol = OpLog()
    for op in ops:
        ol.add_remote(op)
    assert _oplog_columns(ol) == _oplog_columns(small_doc().oplog)
    assert (ol.time_starts, ol.time_values) == ([0], [0])
    d = Document("reader")
    d.apply_patch(data)
    assert d.text == FIXTURE_TEXT
    assert d.version == FIXTURE_VERSION


def test_frozen_v2_document_fixture_decodes() -> None:
    data = (FIXTURES / "v2-document.bin").read_bytes()
    assert data[:4] == b"CWD\x02"
    ol, text, version = decode_document(data)
    assert text == FIXTURE_TEXT
    assert ol.cg.frontier_to_raw(version) == FIXTURE_VERSION
    assert str(checkout(ol).text) == FIXTURE_TEXT
    assert _oplog_columns(ol) == _oplog_columns(small_doc().oplog)
    assert (ol.time_starts, ol.time_values) == (FIXTURE_TIME_STARTS, FIXTURE_TIME_VALUES)
    assert [ol.time_of(lv) for lv in range(len(ol))] == [FIXTURE_TIME_VALUES[lv // 4] for lv in range(len(ol))]
    d = Document.decode(data, "reader")
    assert d.text == FIXTURE_TEXT and d.version == FIXTURE_VERSION
    assert (d.oplog.time_starts, d.oplog.time_values) == (FIXTURE_TIME_STARTS, FIXTURE_TIME_VALUES)


def test_frozen_v2_patch_fixture_decodes() -> None:
    data = (FIXTURES / "v2-patch.bin").read_bytes()
    assert data[:4] == b"CWP\x02"
    ops = decode_patch(data)
    assert {op.time for op in ops} == set(FIXTURE_TIME_VALUES)
    ol = OpLog()
    for op in ops:
        ol.add_remote(op)
    assert _oplog_columns(ol) == _oplog_columns(small_doc().oplog)
    assert (ol.time_starts, ol.time_values) == (FIXTURE_TIME_STARTS, FIXTURE_TIME_VALUES)
    d = Document("reader")
    d.apply_patch(data)
    assert d.text == FIXTURE_TEXT
    assert d.version == FIXTURE_VERSION
    assert (d.oplog.time_starts, d.oplog.time_values) == (FIXTURE_TIME_STARTS, FIXTURE_TIME_VALUES)


def test_fixture_generator_is_still_deterministic() -> None:
    """Not a compatibility requirement, but a cheap alarm for accidental format changes."""
    assert small_doc().text == FIXTURE_TEXT
    assert fixture_times(31) == (FIXTURE_TIME_STARTS, FIXTURE_TIME_VALUES)
    for kind in ("document", "patch"):
        assert timed_encoding(kind) == (FIXTURES / f"v{FORMAT_VERSION}-{kind}.bin").read_bytes()


# -- real traces: size ----------------------------------------------------------------------


def _trace(path: Path) -> dict:  # type: ignore[type-arg]
    if not path.exists():
        pytest.skip(f"trace {path} not present")
    return json.loads(gzip.open(path).read())  # type: ignore[no-any-return]


def test_automerge_paper_encodes_compactly() -> None:
    t = _trace(TRACES / "sequential" / "automerge-paper.json.gz")
    doc = Document("a")
    for tx in t["txns"]:
        for pos, dl, ins in tx["patches"]:
            if dl:
                doc.delete(pos, dl)
            if ins:
                doc.insert(pos, ins)
    data = doc.encode()
    assert len(data) < 150_000  # pycrdt ~223 KB, loro ~252 KB; we are ~97 KB
    d2 = Document.decode(data)
    assert d2.text == t["endContent"]
    assert d2.ops_since(()) == doc.ops_since(())


def test_concurrent_trace_round_trips() -> None:
    t = _trace(TRACES / "concurrent" / "friendsforever.json.gz")
    ol = OpLog()
    ends: list[int] = []
    for tx in t["txns"]:
        parents = ol.cg.reduce([ends[p] for p in tx["parents"]])
        agent = str(tx["agent"])
        for pos, dl, ins in tx["patches"]:
            if dl:
                lv = ol.add_delete(agent, pos, dl, parents)
                parents = (lv + dl - 1,)
            if ins:
                lv = ol.add_insert(agent, pos, ins, parents)
                parents = (lv + len(ins) - 1,)
        ends.append(parents[0])
    text = str(checkout(ol).text)
    assert text == t["endContent"]
    data = encode_document(ol, text, ol.heads)
    assert len(data) < 40_000  # ~30 KB
    ol2, text2, version2 = decode_document(data)
    assert (text2, version2) == (text, ol.heads)
    assert str(checkout(ol2).text) == text
    assert ol2.ops_since(()) == ol.ops_since(())



# -- the fast patch decoder must agree with the general one ------------------------------
#
# decode_patch() tries patch_codec.decode_fast first (small, uncompressed version-2
# patches: every keystroke on the wire) and falls back to the general _decode_patch
# whenever the fast one declines.  The fast one must never accept what the general one
# refuses, and must return exactly what the general one returns.


def _general(data: bytes) -> object:
    """The general decoder's verdict: its ops, or the DecodeError's type."""
    try:
        return patch_codec.decode_general(data)
    except DecodeError:
        return DecodeError


def _fast(data: bytes) -> object:
    """The fast decoder's verdict: its ops or None (declined).  It never raises."""
    return patch_codec.decode_fast(data)


def assert_fast_agrees(data: bytes, *, must_take: bool = False) -> None:
    fast = _fast(data)
    general = _general(data)
    if isinstance(fast, list):
        assert fast == general, "the fast decoder returned other ops than the general one"
        for op in fast:
            validate_op(op)
    else:
        assert not must_take, f"the fast decoder declined a valid patch ({fast!r})"
    public: object
    try:
        public = decode_patch(data)
    except DecodeError:
        public = DecodeError
    assert public == general


def keystroke_patches() -> list[bytes]:
    """What clients send: one typed character, a backspace, a delete, a pasted word, a
    merge op with two parents, an empty patch, and a run of several agents' ops."""
    a = Document("alice")
    a.insert(0, "hello wörld 👋")
    b = a.fork("bob")
    out = []
    for edit in (lambda d: d.insert(3, "x"), lambda d: d.delete(2, 1), lambda d: d.insert(0, "日本語 e\u0301")):
        v = a.version
        edit(a)
        out.append(a.encode_patch(v))
    v = a.version
    for i in range(3):  # backspace held down
        a.delete(len(a) - 1 - i, 1)
    out.append(a.encode_patch(v))
    b.insert(1, "B")
    a.merge(b)
    v = a.version
    a.insert(2, "m")  # parents: two heads
    out.append(a.encode_patch(v))
    out.append(a.encode_patch())
    out.append(encode_patch([]))
    return out


def test_fast_decoder_takes_and_agrees_on_keystroke_patches() -> None:
    for data in keystroke_patches():
        assert_fast_agrees(data, must_take=True)
        assert_fast_agrees(raw_frame(data), must_take=True)
    assert_fast_agrees(raw_frame(timed_encoding("patch")), must_take=True)
    assert_fast_agrees(raw_frame(sample("patch", False)), must_take=True)


def test_fast_decoder_declines_what_it_does_not_handle() -> None:
    v1 = (FIXTURES / "v1-patch.bin").read_bytes()
    assert _fast(v1) is None  # version 1: the general decoder reads it
    assert decode_patch(v1) == _general(v1)
    big = sample("patch", True)
    assert big[4] & 1  # deflated
    assert _fast(big) is None
    assert decode_patch(big) == _general(big)
    assert _fast(bytes(bytearray(b"x") + big)) is None


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=40), st.integers(0, 40))
def test_fast_decoder_agrees_on_random_patches(actions: list[tuple[object, ...]], cut: int) -> None:
    docs = run_session(actions)
    a = docs[0]
    ops = a.ops_since(())
    since = [op for op in ops[cut:]] if cut < len(ops) else []
    for data in (encode_patch(ops), encode_patch(since), a.encode_patch()):
        assert_fast_agrees(raw_frame(data), must_take=True)
        assert_fast_agrees(data, must_take=not data[4] & 1)


@settings(max_examples=1500)
@given(st.randoms(use_true_random=False), st.integers(0, 1_000_000))
def test_fast_decoder_agrees_on_damaged_patches(rnd: random.Random, which: int) -> None:
    """Forged bodies with a valid CRC: both decoders accept (the same ops) or both refuse."""
    patches = keystroke_patches() + [raw_frame(timed_encoding("patch")), raw_frame(sample("patch", False))]
    data = patches[which % len(patches)]
    data = raw_frame(data) if data[4] & 1 else data
    bad = _mutate(data[:-4], rnd)
    assert_fast_agrees(bad + zlib.crc32(bad).to_bytes(4, "little"))


@settings(max_examples=500)
@given(st.binary(max_size=120))
def test_fast_decoder_agrees_on_random_bodies(body: bytes) -> None:
    data = b"CWP" + bytes([FORMAT_VERSION, 0]) + body
    assert_fast_agrees(data + zlib.crc32(data).to_bytes(4, "little"))


def test_fast_decoder_agrees_on_every_varint_and_block_edge() -> None:
    """Every byte of a keystroke patch set to values that break varints and lengths."""
    for data in keystroke_patches()[:5]:
        body = data[:-4]
        for i in range(5, len(body)):
            for v in (0, 1, 2, 3, 0x7F, 0x80, 0x81, 0xFF, body[i] + 1 & 0xFF, body[i] - 1 & 0xFF):
                bad = body[:i] + bytes([v]) + body[i + 1 :]
                assert_fast_agrees(bad + zlib.crc32(bad).to_bytes(4, "little"))
            for ins in (b"\x80", b"\x00"):
                bad = body[:i] + ins + body[i:]
                assert_fast_agrees(bad + zlib.crc32(bad).to_bytes(4, "little"))
            bad = body[:i] + body[i + 1 :]
            assert_fast_agrees(bad + zlib.crc32(bad).to_bytes(4, "little"))



def _split_patch(data: bytes) -> list[list[object]]:
    """An uncompressed version-2 patch as its fields: [agent names], [n], five columns of
    varints, [inserted text], [time run count], [time varints] (see encoding.py)."""
    body = data[5:-4]
    p = 0

    def uv() -> int:
        nonlocal p
        v = shift = 0
        while True:
            b = body[p]
            p += 1
            v |= (b & 0x7F) << shift
            if b < 0x80:
                return v
            shift += 7

    def blk() -> bytes:
        nonlocal p
        ln = uv()
        p += ln
        return body[p - ln : p]

    def ints(b: bytes) -> list[object]:
        nonlocal body, p
        saved = body, p
        body, p = b, 0
        out: list[object] = []
        while p < len(body):
            out.append(uv())
        body, p = saved
        return out

    fields: list[list[object]] = [[blk() for _ in range(uv())], [uv()]]
    fields += [ints(blk()) for _ in range(5)]
    fields += [[blk()], [uv()], ints(blk())]
    assert p == len(body)
    return fields


def _join_patch(fields: list[list[object]]) -> bytes:
    def blk(b: bytes) -> bytes:
        return _varint(len(b)) + b

    def ints(xs: list[object]) -> bytes:
        return b"".join(_varint(int(x)) for x in xs)

    body = _varint(len(fields[0])) + b"".join(blk(a) for a in fields[0]) + _varint(int(fields[1][0]))
    body += b"".join(blk(ints(col)) for col in fields[2:7])
    body += blk(fields[7][0]) + _varint(int(fields[8][0])) + blk(ints(fields[9]))
    data = b"CWP" + bytes([FORMAT_VERSION, 0]) + body
    return data + zlib.crc32(data).to_bytes(4, "little")


def test_patch_splitter_round_trips() -> None:
    for data in keystroke_patches():
        data = raw_frame(data)
        assert _join_patch(_split_patch(data)) == data


_EDGE_INTS = [0, 1, 2, 3, 4, 5, 7, 8, 0x7F, 0x80, 2**53 - 1, 2**53, 2**54 + 1, 2**64]
_EDGE_NAMES = [b"alice", b"bob", b"", b"x" * 257, "é".encode() * 200, b"\xff\xfe", b"\xed\xa0\x80"]


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**6), st.randoms(use_true_random=False))
def test_fast_decoder_agrees_on_forged_columns(which: int, rnd: random.Random) -> None:
    """Well-framed patches (right block lengths, right CRC) with one to three field values
    changed, added or removed: each decoder check is reached with a bad value."""
    patches = keystroke_patches() + [timed_encoding("patch"), sample("patch", False)]
    fields = _split_patch(raw_frame(patches[which % len(patches)]))
    for _ in range(rnd.randint(1, 3)):
        f = rnd.randrange(len(fields))
        col = fields[f]
        if f == 0:
            pool: list[object] = _EDGE_NAMES + list(col)
        elif f == 7:
            text = bytes(col[0])
            pool = [text[:-1], text + b"a", text + "é".encode(), b"", text[1:], b"\xff" + text]
        else:
            pool = _EDGE_INTS + [int(v) + d for v in col for d in (-2, -1, 1, 2) if int(v) + d >= 0]
        op = rnd.randrange(3)
        if op == 0 or f in (1, 7, 8) or not col:
            if col:
                col[rnd.randrange(len(col))] = rnd.choice(pool)
        elif op == 1:
            col.insert(rnd.randrange(len(col) + 1), rnd.choice(pool))
        else:
            del col[rnd.randrange(len(col))]
    assert_fast_agrees(_join_patch(fields))



def _zz(v: int) -> int:
    return v << 1 if v >= 0 else (-v << 1) - 1


_T = 1_795_565_071
# (keystroke_patches() index, field index, new value): each breaks one decoder rule.
_FORGERIES: list[tuple[int, int, list[object]]] = [
    (0, 0, [b""]),  # empty agent name
    (4, 0, [b"alice", b"alice"]),  # agent listed twice
    (0, 0, [b"x" * 257]),  # agent name too long
    (0, 0, ["é".encode() * 257]),  # too long in characters, not bytes
    (0, 0, [b"\xff"]),  # not UTF-8
    (0, 0, [b"\xed\xa0\x80"]),  # an encoded lone surrogate
    (0, 1, [2]),  # more ops than the columns hold
    (0, 1, [0]),  # fewer ops than the columns hold
    (0, 2, [0, 0, 0, 1]),  # an empty agent run
    (0, 2, [1, 1]),  # agent index out of range
    (0, 2, [0, 2]),  # agent run longer than the ops
    (0, 3, [_zz(-27)]),  # negative seq
    (0, 3, [_zz(2**53)]),  # seq out of range
    (0, 4, [0]),  # the first op follows "the previous op"
    (0, 4, [2, 5, 12]),  # parent agent out of range
    (0, 4, [2, 0, 2**53]),  # parent seq out of range
    (0, 4, [3, 0, 12]),  # parent count larger than the column
    (0, 4, [2, 0, 12, 0]),  # trailing byte in the parents column
    (0, 5, [7]),  # unknown op kind
    (0, 5, [0]),  # empty op
    (0, 5, [8]),  # insert of 2 with 1 character of text
    (0, 6, [_zz(-1)]),  # negative position
    (0, 7, [b"xy"]),  # more text than the inserts
    (0, 7, [b""]),  # less text than the inserts
    (0, 7, [b"\xc3"]),  # text not UTF-8
    (3, 8, [2]),  # time run count says 2, one run follows
    (3, 8, [0]),  # time run count says 0
    (3, 9, [4, _zz(_T)]),  # time runs cover more ops than there are
    (3, 9, [2, _zz(_T)]),  # ... fewer
    (3, 9, [0, _zz(_T)]),  # an empty time run
    (3, 9, [1, _zz(_T), 2, 0]),  # two runs with the same time (needs count 2: see below)
    (3, 9, [3, _zz(-5)]),  # negative time
    (3, 9, [3, _zz(2**53)]),  # time out of range
    (3, 9, [3, 2**64]),  # varint longer than 10 bytes (2**64 takes 10; see below)
]


def test_fast_decoder_refuses_each_forgery_like_the_general_one() -> None:
    base = [_split_patch(raw_frame(d)) for d in keystroke_patches()]
    for idx, field, value in _FORGERIES:
        fields = [list(f) for f in base[idx]]
        fields[field] = list(value)
        if value == [1, _zz(_T), 2, 0]:
            fields[8] = [2]
        data = _join_patch(fields)
        assert _general(data) is DecodeError, (idx, field, value)
        assert_fast_agrees(data)
    # bytes the fields cannot express: an 11-byte varint, bytes after the times block
    data = raw_frame(keystroke_patches()[0])
    body = data[:-4]
    for bad in (body[:5] + b"\x81" + b"\x80" * 9 + b"\x00" + body[6:], body + b"\x00", body[:-1]):
        assert _general(bad + zlib.crc32(bad).to_bytes(4, "little")) is DecodeError
        assert_fast_agrees(bad + zlib.crc32(bad).to_bytes(4, "little"))


if __name__ == "__main__":
    if "--regen" in sys.argv:
        _write_fixtures()
    else:
        print(__doc__)
