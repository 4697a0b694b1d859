"""Shared pieces of the codec tests: sample documents and patches, frame surgery, mutators.

``python -m codec.helpers --regen`` (run from ``tests/engine``) writes the frozen
fixtures of the *current* format version (only when it is bumped).  Fixtures of
older versions are never rewritten: their bytes must keep decoding forever.
"""

from __future__ import annotations

import os
import random
import sys
import zlib
from pathlib import Path

from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document, TooLargeError
from cowrite.engine.causal_graph import Frontier
from cowrite.engine.codec import FORMAT_VERSION, decode_patch, encode_document, encode_patch
from cowrite.engine.oplog import OpLog, copy_oplog

ROOT = Path(__file__).resolve().parents[3]
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


def check_decode_is_safe(data: bytes, kind: str = "document", max_bytes: int | None = None) -> None:
    """Decoding must either give a usable result or raise DecodeError (or TooLargeError,
    when a limit is given): nothing else.  Any other exception escapes and fails the test."""
    documented: tuple[type[Exception], ...] = (DecodeError,) if max_bytes is None else (DecodeError, TooLargeError)
    try:
        if kind == "document":
            d = Document.decode(data, "checker", max_bytes=max_bytes)
        else:
            ops = decode_patch(data, max_bytes=max_bytes)
    except documented:
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


def mutate(data: bytes, rnd: random.Random) -> bytes:
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


def fix_crc(body: bytes) -> bytes:
    """``body`` (everything before the CRC) with its CRC-32 appended."""
    return body + zlib.crc32(body).to_bytes(4, "little")


def varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v: int) -> bytes:
    return varint((v << 1) if v >= 0 else ((-v << 1) - 1))



# -- the frozen fixtures: these bytes must decode forever ------------------------------
#
# v1-*.bin were written by format version 1 (no times) and are never rewritten.
# v2-*.bin hold the same history with fixture_times(); --regen rewrites only the
# fixtures of the current FORMAT_VERSION.

FIXTURE_TEXT = "H\u00e9llo, dear w\u00f6rld \u65e5\u672c\u8a9e e\u0301"
FIXTURE_VERSION = (("alice", 21), ("bob", 8))
FIXTURE_TIME_STARTS = [0, 4, 8, 12, 16, 20, 24, 28]
FIXTURE_TIME_VALUES = [T0, T0 + 7, T0 + 14, 0, T0 + 28 - 3600, T0 + 35, T0 + 42, T0 + 49]


def write_fixtures() -> None:
    assert FORMAT_VERSION == 2, "add the new version's fixtures here; never rewrite older ones"
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for kind in ("document", "patch"):
        path = FIXTURES / f"v{FORMAT_VERSION}-{kind}.bin"
        path.write_bytes(timed_encoding(kind))
        print(f"wrote {path}")


def oplog_columns(ol: OpLog) -> tuple[object, ...]:
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



if __name__ == "__main__":
    if "--regen" in sys.argv:
        write_fixtures()
    else:
        print(__doc__)
