"""The head-first document layout (``codec/head.py``) and lazy loading.

``Document.encode`` writes the text and version before the history, so
``Document.decode(..., lazy=True)`` reads only them (plus the frame's CRC) and
decodes the history on first need.  Pinned here: both layouts decode to the same
document, the classic reader cannot mistake one for the other, a lazily loaded
document behaves exactly like an eagerly loaded one, damage is still refused at
load, and a history forged under a valid checksum is refused on first use with
DecodeError, leaving the document as it was.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrite.engine import Document
from cowrite.engine.codec import decode_document, encode_document, encode_head_first
from cowrite.engine.codec.head import HEAD_MARK
from cowrite.errors import DecodeError, TooLargeError

from engine_helpers import hyp

from .helpers import action, assert_same_doc, fix_crc, raw_frame, run_session, small_doc


def _lazy(data: bytes, agent: str = "reader") -> Document:
    d = Document.decode(data, agent, lazy=True)
    assert d._history is not None, "a head-first document must load with its history packed"
    return d


def _body(data: bytes) -> bytes:
    """The (inflated) body of a frame."""
    raw = raw_frame(data)
    return raw[5:-4]


def test_encode_writes_the_head_first_layout_and_both_layouts_decode_alike() -> None:
    d = small_doc()
    data = d.encode()
    assert data[:4] == b"CWD\x02"
    assert _body(data).startswith(HEAD_MARK)
    classic = encode_document(d.oplog, d.text, d.branch.version)
    assert not _body(classic).startswith(HEAD_MARK)
    a, b = decode_document(data), decode_document(classic)
    assert a[1:] == b[1:]
    assert [o for o in a[0].ops_since(())] == [o for o in b[0].ops_since(())]
    assert_same_doc(Document.decode(classic), Document.decode(data))
    # canonical: what a load re-encodes is the same bytes, eager or lazy
    assert Document.decode(data).encode() == data
    assert _lazy(data).encode() == data


def test_the_text_and_version_are_read_without_the_history() -> None:
    d = small_doc()
    lazy = _lazy(d.encode())
    assert lazy.text == d.text and len(lazy) == len(d) and lazy.version == d.version
    assert repr(lazy) == repr(d).replace("alice", "reader")
    assert lazy._history is not None and len(lazy._oplog) == 0  # nothing decoded yet
    assert lazy.oplog.heads == d.oplog.heads  # first use decodes it
    assert lazy._history is None
    assert_same_doc(d, lazy)


@pytest.mark.parametrize(
    "use",
    [
        lambda d: d.ops_since(()),
        lambda d: d.summary(),
        lambda d: d.insert(3, "xyz"),
        lambda d: d.delete(0, 2),
        lambda d: d.encode(),
        lambda d: d.fork("other"),
        lambda d: d.copy(),
        lambda d: d.blame(),
        lambda d: d.changes(),
        lambda d: d.position(2),
        lambda d: d.branch.version,
    ],
)
def test_a_lazy_document_does_what_an_eager_one_does(use: object) -> None:
    data = small_doc().encode()
    eager, lazy = Document.decode(data, "reader"), _lazy(data)
    fn = use  # type: ignore[assignment]
    assert repr(fn(eager)) == repr(fn(lazy))  # type: ignore[operator]
    assert_same_doc(eager, lazy)


def test_a_lazy_document_merges_and_is_merged() -> None:
    base = small_doc()
    data = base.encode()
    peer = base.fork("peer")
    peer.insert(0, "peer was here. ")
    lazy = _lazy(data)
    lazy.merge(peer)
    eager = Document.decode(data, "reader")
    eager.merge(peer)
    assert lazy.text == eager.text == peer.text
    other = _lazy(data, "other")
    peer.merge(other)  # reading ops from a packed document decodes it
    assert peer.text == lazy.text
    fresh = _lazy(data, "fresh")
    fresh.apply_patch(peer.encode_patch(base.version))
    assert fresh.text == peer.text


@hyp
@given(st.lists(action, max_size=40))
def test_random_sessions_round_trip_in_both_layouts(actions: list[tuple[object, ...]]) -> None:
    for d in run_session(actions):
        data = d.encode()
        assert encode_head_first(d.oplog, d.text, d.branch.version) == data
        for loaded in (Document.decode(data, "x"), _lazy(data, "y"), Document.decode(raw_frame(data), "z")):
            assert loaded.text == d.text and loaded.version == d.version
            assert_same_doc(d, loaded)
            assert loaded.encode() == data


def test_a_classic_reader_cannot_take_a_head_first_body_for_its_own() -> None:
    """The mark is an agent count no body has room for: a reader of the classic layout
    (an older build) refuses a head-first body as corrupt instead of misreading it."""
    from cowrite.engine.codec.columns import read_agents
    from cowrite.engine.codec.varint import Reader

    body = _body(small_doc().encode())
    with pytest.raises(DecodeError, match="agents claimed"):
        read_agents(Reader(body))


def test_an_empty_document_round_trips_lazily() -> None:
    data = Document("a").encode()
    lazy = _lazy(data)
    assert (lazy.text, lazy.version, len(lazy.oplog)) == ("", (), 0)


def test_the_size_limit_is_checked_before_the_head_is_inflated() -> None:
    big = Document("big", clock=lambda: 0)
    for i in range(200):
        big.insert(len(big), f"line {i} of a document that deflates well\n")
    data = big.encode()
    assert data[4] & 1  # deflated
    n = len(_body(data))
    assert _lazy(data).text == big.text
    assert Document.decode(data, "r", max_bytes=n, lazy=True).text == big.text
    with pytest.raises(TooLargeError):
        Document.decode(data, "r", max_bytes=n - 1, lazy=True)


@pytest.mark.parametrize("plain", [False, True])
def test_damage_anywhere_is_refused_at_a_lazy_load(plain: bool) -> None:
    """The CRC covers the whole frame, history included: a lazy load finds every
    truncation and bit flip at once, not on first use."""
    data = small_doc().encode()
    if plain:
        data = raw_frame(data)
    for n in range(len(data)):
        with pytest.raises(DecodeError):
            Document.decode(data[:n], "x", lazy=True)
    for i in range(len(data)):
        for bit in (0, 3, 7):
            b = bytearray(data)
            b[i] ^= 1 << bit
            with pytest.raises(DecodeError):
                Document.decode(bytes(b), "x", lazy=True)


def _forged_history(data: bytes, rnd: random.Random) -> bytes | None:
    """``data`` with a byte of its history (not its head) changed and the CRC fixed up,
    stored plain so the change reaches the parser; None if it still decodes."""
    body = bytearray(_body(data))
    i = len(HEAD_MARK)
    head_len = 0
    shift = 0
    while True:
        b = body[i]
        head_len |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if b < 0x80:
            break
    history_at = i + head_len
    pos = rnd.randrange(history_at, len(body))
    body[pos] = rnd.choice([0, 0xFF, body[pos] ^ 0x01, body[pos] ^ 0x40, rnd.randrange(256)])
    forged = fix_crc(b"CWD\x02\x00" + bytes(body))
    try:
        decode_document(forged)
    except DecodeError:
        return forged
    return None


def test_a_forged_history_is_refused_at_an_eager_load_and_on_first_use_of_a_lazy_one() -> None:
    rnd = random.Random(14)
    base = small_doc()
    data = base.encode()
    found = 0
    for _ in range(300):
        forged = _forged_history(data, rnd)
        if forged is None:
            continue
        found += 1
        with pytest.raises(DecodeError):
            Document.decode(forged, "x")  # the default checks everything at load
        lazy = Document.decode(forged, "x", lazy=True)  # the head is fine: it loads
        assert lazy.text == base.text and lazy.version == base.version
        before = (lazy.text, lazy.version, repr(lazy))
        for use in (lambda: lazy.oplog, lambda: lazy.insert(0, "a"), lambda: lazy.ops_since(()), lambda: lazy.encode()):
            with pytest.raises(DecodeError, match="stored history is corrupt"):
                use()
            assert (lazy.text, lazy.version, repr(lazy)) == before  # nothing changed, and it stays refused
        peer = base.fork("peer")
        peer.insert(0, "new")
        with pytest.raises(DecodeError, match="stored history is corrupt"):
            lazy.apply_patch(peer.encode_patch(base.version))
        assert (lazy.text, lazy.version, repr(lazy)) == before
    assert found > 50


def test_a_head_that_does_not_fit_its_history_is_refused() -> None:
    """Each head field is cross-checked against the history when it is decoded."""
    d = small_doc()
    good = d.encode()
    # other's head (more ops, a version d's history lacks) spliced onto d's history
    other = small_doc()
    other.insert(0, "more")

    def parts(data: bytes) -> tuple[bytes, bytes]:
        body = _body(data)
        i = len(HEAD_MARK)
        n = shift = 0
        while True:
            b = body[i]
            n |= (b & 0x7F) << shift
            i += 1
            shift += 7
            if b < 0x80:
                break
        return body[: i + n], body[i + n :]

    head_other, _ = parts(other.encode())
    _, history = parts(good)
    spliced = fix_crc(b"CWD\x02\x00" + head_other + history)
    lazy = Document.decode(spliced, "x", lazy=True)
    assert lazy.text == other.text
    with pytest.raises(DecodeError, match="stored history is corrupt"):
        lazy.ops_since(())
    with pytest.raises(DecodeError, match="the head says"):
        Document.decode(spliced, "x")


def test_a_lazy_load_of_a_classic_encoding_decodes_it_in_full() -> None:
    d = small_doc()
    classic = encode_document(d.oplog, d.text, d.branch.version)
    loaded = Document.decode(classic, "x", lazy=True)
    assert loaded._history is None
    assert_same_doc(d, loaded)


def test_a_lazy_document_holds_its_bytes_not_its_ops() -> None:
    """What a packed document keeps: the frame it was given (not a copy when it is
    bytes) and the head's values, no op log objects."""
    big = Document("big", clock=lambda: 0)
    for i in range(300):
        big.insert(len(big) // 2, f"{i} ")
    data = big.encode()
    lazy = _lazy(data)
    assert lazy._history is not None and lazy._history.frame.data is data
    assert len(lazy._oplog) == 0 and lazy._oplog.op_starts == []
