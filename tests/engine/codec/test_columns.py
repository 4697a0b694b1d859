"""The column pieces both encodings share (``codec/columns.py``): agent tables, runs,
frontiers, inserted text and the times section, read from hostile bytes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cowrite.engine import MAX_AGENT_LEN, DecodeError, InvalidOpError
from cowrite.engine.codec import FORMAT_VERSION, Reader, decode_document, decode_patch, encode_document, encode_patch
from cowrite.engine.codec.columns import (
    decode_utf8,
    predict,
    read_agents,
    read_content,
    read_frontier,
    read_rle,
    read_times,
    rle,
    utf8,
    write_agents,
    write_frontier,
    write_times,
)
from cowrite.engine.oplog import DEL_BACK, DEL_FWD, INS, OpLog
from engine_helpers import hyp

from .helpers import check_decode_is_safe, raw_frame, reframe, timed_encoding, timed_small_doc, varint, zigzag


# -- hostile times sections (format version 2) ------------------------------------------


def _section(pairs: list[tuple[int, int]], count: int | None = None) -> bytes:
    """A times section from raw (run length, time delta) pairs."""
    block = b"".join(varint(n) + zigzag(d) for n, d in pairs)
    return varint(len(pairs) if count is None else count) + varint(len(block)) + block


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
        (lambda r: varint(len(r)) + varint(2**40) + _section(_deltas(r))[2:], "truncated"),
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
    bad = _with_times(kind, varint(count) + varint(len(junk)) + junk)
    check_decode_is_safe(bad, kind)
    check_decode_is_safe(_with_times(kind, junk), kind)


# -- each column reader on its own ------------------------------------------------------------


@hyp
@given(st.lists(st.integers(0, 5), max_size=40))
def test_rle_round_trips(values: list[int]) -> None:
    data = bytes(rle(values))
    assert read_rle(Reader(data), len(values), 6, "agent index") == values
    if values:
        with pytest.raises(DecodeError, match="out of range"):
            read_rle(Reader(data), len(values), max(values), "agent index")
    if len(values) > 1:
        with pytest.raises(DecodeError):  # fewer values wanted than the runs hold
            read_rle(Reader(data), len(values) - 1, 6, "agent index")


@pytest.mark.parametrize(
    "data, n, match",
    [
        (b"\x00\x00", 1, "bad run length"),  # an empty run
        (b"\x00\x03", 2, "bad run length"),  # a run longer than the values wanted
        (b"\x07\x01", 1, "agent index 7 out of range"),
        (b"\x00\x01\x00", 1, "unexpected bytes after agent index column"),
        (b"\x00", 1, "truncated"),
    ],
)
def test_read_rle_refuses(data: bytes, n: int, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        read_rle(Reader(data), n, 3, "agent index")


def agents_bytes(names: list[bytes], count: int | None = None) -> bytes:
    return varint(len(names) if count is None else count) + b"".join(varint(len(a)) + a for a in names)


def test_read_agents() -> None:
    out = bytearray()
    write_agents(out, ["alice", "日本", "x" * MAX_AGENT_LEN, "👋" * MAX_AGENT_LEN])
    assert read_agents(Reader(bytes(out))) == ["alice", "日本", "x" * MAX_AGENT_LEN, "👋" * MAX_AGENT_LEN]
    for names, match in (
        ([b""], "1..256 characters"),
        ([b"x" * (MAX_AGENT_LEN + 1)], "1..256 characters"),
        (["é".encode() * (MAX_AGENT_LEN + 1)], "1..256 characters"),
        ([b"x" * (4 * MAX_AGENT_LEN + 1)], "agent name too long"),
        ([b"a", b"a"], "listed twice"),
        ([b"\xff"], "not valid UTF-8"),
        ([b"\xed\xa0\x80"], "not valid UTF-8"),  # an encoded lone surrogate
    ):
        with pytest.raises(DecodeError, match=match):
            read_agents(Reader(agents_bytes(names)))
    with pytest.raises(DecodeError, match="claimed"):
        read_agents(Reader(agents_bytes([b"a"], count=1000)))


@hyp
@given(st.lists(st.integers(0, 1000), max_size=6, unique=True))
def test_frontiers_round_trip(lvs: list[int]) -> None:
    f = tuple(sorted(lvs))
    out = bytearray()
    write_frontier(out, f)
    r = Reader(bytes(out))
    assert read_frontier(r, 1001, "heads") == f
    r.done("heads")
    if f:
        with pytest.raises(DecodeError, match="names LV"):
            read_frontier(Reader(bytes(out)), f[-1], "heads")


def test_read_frontier_refuses() -> None:
    with pytest.raises(DecodeError, match="not strictly ascending"):
        read_frontier(Reader(b"\x02\x05\x00"), 10, "version")
    with pytest.raises(DecodeError, match="version names LV 10 but the log has 10"):
        read_frontier(Reader(b"\x01\x0a"), 10, "version")
    with pytest.raises(DecodeError, match="claimed"):
        read_frontier(Reader(b"\x05\x01"), 10, "version")


def test_read_content() -> None:
    text = "aé日👋"
    data = utf8(text, "text")
    assert read_content(Reader(varint(len(data)) + data), 4) == text
    assert read_content(Reader(b"\x00"), 0) == ""
    for raw, n, match in (
        (data, 5, "length does not match"),  # 10 bytes can hold 5 code points, but these are 4
        (data, 3, "length does not match"),
        (data, 2, "size does not match"),  # 2 code points take at most 8 bytes
        (data[:-1], 4, "not valid UTF-8"),
        (b"abcde", 1, "size does not match"),  # more than 4 bytes for one code point
        (b"", 1, "size does not match"),
    ):
        with pytest.raises(DecodeError, match=match):
            read_content(Reader(varint(len(raw)) + raw), n)
    with pytest.raises(InvalidOpError, match="lone surrogates"):
        utf8("a\ud800", "inserted text")
    with pytest.raises(DecodeError, match="agent name is not valid UTF-8"):
        decode_utf8(b"\xc3", "agent name")


@hyp
@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from([0, 1, 2**53 - 1, 1_700_000_000, 1_700_000_001])), max_size=8))
def test_times_round_trip(runs: list[tuple[int, int]]) -> None:
    merged: list[tuple[int, int]] = []
    for n, t in runs:  # consecutive runs must differ: merge equal neighbours, as writers do
        if merged and merged[-1][1] == t:
            merged[-1] = (merged[-1][0] + n, t)
        else:
            merged.append((n, t))
    out = bytearray()
    write_times(out, merged)
    total = sum(n for n, _ in merged)
    starts, values = read_times(Reader(bytes(out)), total, "LVs")
    assert values == [t for _, t in merged]
    assert starts == [sum(n for n, _ in merged[:i]) for i in range(len(merged))]


def test_predict() -> None:
    assert predict(INS, 5, 3) == 8  # after typing: its end
    assert predict(DEL_FWD, 5, 3) == 5 and predict(DEL_BACK, 5, 3) == 5  # after deleting: its start
