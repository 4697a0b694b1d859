"""The encoding of a patch (``codec/patch.py``): round trips, and the fast decoder
(``decode_fast``) against the general one (``decode_general``) on every kind of input.
"""

from __future__ import annotations

import random
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document, Op, TooLargeError
from cowrite.engine.codec import FORMAT_VERSION, decode_patch, encode_patch
from cowrite.engine.codec import patch as patch_codec
from cowrite.engine.ops import validate_op

from .helpers import FIXTURES, T0, action, mutate, raw_frame, run_session, sample, small_doc, timed_encoding, varint


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


# -- the fast patch decoder must agree with the general one ------------------------------
#
# decode_patch() tries patch_codec.decode_fast first (small, uncompressed version-2
# patches: every keystroke on the wire) and falls back to the general _decode_patch
# whenever the fast one declines.  The fast one must never accept what the general one
# refuses, and must return exactly what the general one returns.


def _general(data: bytes, max_bytes: int | None = None) -> object:
    """The general decoder's verdict: its ops, or the type of the documented error it raised
    (anything else escapes and fails the test)."""
    try:
        return patch_codec.decode_general(data, max_bytes)
    except DecodeError:
        return DecodeError
    except TooLargeError:
        return TooLargeError


def _fast(data: bytes, max_bytes: int | None = None) -> object:
    """The fast decoder's verdict: its ops or None (declined).  It never raises: nothing is
    caught here, so any exception at all fails the test."""
    fast = patch_codec.decode_fast(data, max_bytes)
    assert fast is None or isinstance(fast, list), f"decode_fast returned {fast!r}"
    return fast


def assert_fast_agrees(data: bytes, *, must_take: bool = False, max_bytes: int | None = None) -> None:
    fast = _fast(data, max_bytes)
    general = _general(data, max_bytes)
    if isinstance(fast, list):
        assert fast == general, "the fast decoder returned other ops than the general one"
        for op in fast:
            validate_op(op)
    else:
        assert not must_take, f"the fast decoder declined a valid patch ({fast!r})"
    public: object
    try:
        public = decode_patch(data, max_bytes=max_bytes)
    except DecodeError:
        public = DecodeError
    except TooLargeError:
        public = TooLargeError
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


def test_fast_decoder_under_a_limit() -> None:
    """Over ``max_bytes`` the fast decoder declines and the general one says TooLargeError;
    at or under it both answer as without a limit."""
    for data in keystroke_patches():
        n = len(data) - 9  # a plain frame: header 5, CRC 4
        assert not data[4] & 1
        whole = _general(data)
        for limit in (n, n + 1, 10**9):
            assert _fast(data, limit) == whole
            assert_fast_agrees(data, must_take=True, max_bytes=limit)
        for limit in (n - 1, 0, -1):
            assert _fast(data, limit) is None
            assert _general(data, limit) is TooLargeError
            assert_fast_agrees(data, max_bytes=limit)


@settings(max_examples=500)
@given(st.randoms(use_true_random=False), st.integers(0, 1_000_000), st.integers(0, 120))
def test_fast_decoder_agrees_on_damaged_patches_under_a_limit(rnd: random.Random, which: int, limit: int) -> None:
    patches = keystroke_patches()
    bad = mutate(patches[which % len(patches)][:-4], rnd)
    assert_fast_agrees(bad + zlib.crc32(bad).to_bytes(4, "little"), max_bytes=limit)


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
    bad = mutate(data[:-4], rnd)
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
        return varint(len(b)) + b

    def ints(xs: list[object]) -> bytes:
        return b"".join(varint(int(x)) for x in xs)

    body = varint(len(fields[0])) + b"".join(blk(a) for a in fields[0]) + varint(int(fields[1][0]))
    body += b"".join(blk(ints(col)) for col in fields[2:7])
    body += blk(fields[7][0]) + varint(int(fields[8][0])) + blk(ints(fields[9]))
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


def test_patch_times_rle_is_compact() -> None:
    ops = [Op.insert("a", i, (("a", i - 1),) if i else (), i, "x", time=T0) for i in range(100)]
    all_same = encode_patch(ops)
    unknown = encode_patch([Op.insert("a", i, (("a", i - 1),) if i else (), i, "x") for i in range(100)])
    assert len(all_same) - len(unknown) <= 5  # one run: a count, a block length, one pair
    assert [o.time for o in decode_patch(all_same)] == [T0] * 100
