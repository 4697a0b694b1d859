"""The binary document and patch encodings: round trips, compatibility, hostile input.

Run ``python tests/engine/test_encoding.py --regen`` to rewrite the frozen fixtures
(only when the format version is bumped: old fixtures must keep decoding forever).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document
from cowrite.engine.branch import checkout
from cowrite.engine.encoding import (
    FORMAT_VERSION,
    decode_document,
    decode_patch,
    encode_document,
    encode_patch,
)
from cowrite.engine.oplog import OpLog

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
    """A fixed small document with two agents, concurrent edits and a merge."""
    a = Document("alice")
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


@pytest.mark.parametrize("kind", ["document", "patch"])
def test_every_truncation_raises(kind: str) -> None:
    d = small_doc()
    for data in (d.encode(), raw_frame(d.encode())) if kind == "document" else (d.encode_patch(),):
        for n in range(len(data)):
            with pytest.raises(DecodeError):
                (decode_document if kind == "document" else decode_patch)(data[:n])


@pytest.mark.parametrize("kind", ["document", "patch"])
def test_every_single_bit_flip_is_caught(kind: str) -> None:
    d = small_doc()
    data = d.encode() if kind == "document" else d.encode_patch()
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
@given(st.randoms(use_true_random=False), st.sampled_from(["document", "patch"]))
def test_random_mutations_never_crash(rnd: random.Random, kind: str) -> None:
    d = small_doc()
    data = d.encode() if kind == "document" else d.encode_patch()
    bad = _mutate(data, rnd)
    if bad != data:  # the CRC catches these
        with pytest.raises(DecodeError):
            (decode_document if kind == "document" else decode_patch)(bad)


@settings(max_examples=1000)
@given(st.randoms(use_true_random=False), st.sampled_from(["document", "patch"]), st.booleans())
def test_forged_mutations_with_valid_crc_never_crash(rnd: random.Random, kind: str, raw: bool) -> None:
    """Mutate the structure and fix the CRC: the parser itself must hold up."""
    d = small_doc()
    data = d.encode() if kind == "document" else d.encode_patch()
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
@given(st.binary(max_size=300), st.sampled_from([b"CWD", b"CWP"]), st.integers(0, 1))
def test_random_bodies_with_valid_header_and_crc_never_crash(body: bytes, magic: bytes, flags: int) -> None:
    data = magic + bytes([FORMAT_VERSION, flags]) + body
    data += zlib.crc32(data).to_bytes(4, "little")
    check_decode_is_safe(data, "document" if magic == b"CWD" else "patch")


@pytest.mark.parametrize("version", [0, 2, 255])
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


# -- the frozen v1 fixtures: these bytes must decode forever --------------------------

FIXTURE_TEXT = "H\u00e9llo, dear w\u00f6rld \u65e5\u672c\u8a9e e\u0301"
FIXTURE_VERSION = (("alice", 21), ("bob", 8))


def _write_fixtures() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    d = small_doc()
    (FIXTURES / "v1-document.bin").write_bytes(d.encode())
    (FIXTURES / "v1-patch.bin").write_bytes(d.encode_patch())
    print(f"wrote {FIXTURES}; text={d.text!r} version={d.version!r}")


def test_frozen_v1_document_fixture_decodes() -> None:
    data = (FIXTURES / "v1-document.bin").read_bytes()
    assert data[:4] == b"CWD\x01"
    d = Document.decode(data, "reader")
    assert d.text == FIXTURE_TEXT
    assert d.version == FIXTURE_VERSION
    assert str(checkout(d.oplog).text) == FIXTURE_TEXT  # the history still replays to it


def test_frozen_v1_patch_fixture_decodes() -> None:
    data = (FIXTURES / "v1-patch.bin").read_bytes()
    assert data[:4] == b"CWP\x01"
    d = Document("reader")
    d.apply_patch(data)
    assert d.text == FIXTURE_TEXT
    assert d.version == FIXTURE_VERSION


def test_fixture_generator_is_still_deterministic() -> None:
    """Not a compatibility requirement, but a cheap alarm for accidental format changes."""
    d = small_doc()
    assert d.text == FIXTURE_TEXT
    assert d.encode() == (FIXTURES / "v1-document.bin").read_bytes()
    assert d.encode_patch() == (FIXTURES / "v1-patch.bin").read_bytes()


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


if __name__ == "__main__":
    if "--regen" in sys.argv:
        _write_fixtures()
    else:
        print(__doc__)
