"""The frozen fixtures: bytes written by every format version must decode forever.

``python -m codec.helpers --regen`` (from ``tests/engine``) rewrites only the
fixtures of the current ``FORMAT_VERSION``; older ones are never rewritten.
"""

from __future__ import annotations

from cowrite.engine import Document
from cowrite.engine.branch import checkout
from cowrite.engine.codec import FORMAT_VERSION, decode_document, decode_patch
from cowrite.engine.oplog import OpLog
from oplog_helpers import per_lv, replay, times

from .helpers import (
    FIXTURE_TEXT,
    FIXTURE_TIME_STARTS,
    FIXTURE_TIME_VALUES,
    FIXTURE_VERSION,
    FIXTURES,
    assert_same_doc,
    fixture_times,
    oplog_columns,
    small_doc,
    timed_encoding,
)


def test_frozen_v1_document_fixture_decodes() -> None:
    data = (FIXTURES / "v1-document.bin").read_bytes()
    assert data[:4] == b"CWD\x01"
    d = Document.decode(data, "reader")
    assert d.text == FIXTURE_TEXT
    assert d.version == FIXTURE_VERSION
    assert str(checkout(d.oplog).text) == FIXTURE_TEXT  # the history still replays to it
    # exactly the history small_doc() makes, with every time unknown
    assert oplog_columns(d.oplog) == oplog_columns(small_doc().oplog)
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
    assert oplog_columns(ol) == oplog_columns(small_doc().oplog)
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
    assert oplog_columns(ol) == oplog_columns(small_doc().oplog)
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
    assert oplog_columns(ol) == oplog_columns(small_doc().oplog)
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


def test_v1_fixtures_decode_with_unknown_times() -> None:
    ol, text, _ = decode_document((FIXTURES / "v1-document.bin").read_bytes())
    assert text and times(ol) == ([0], [0]) and set(per_lv(ol)) == {0}
    assert {o.time for o in ol.ops_since(())} == {0}
    ops = decode_patch((FIXTURES / "v1-patch.bin").read_bytes())
    assert ops and {o.time for o in ops} == {0}


def test_v2_fixtures_decode_with_their_times() -> None:
    ol, _, _ = decode_document((FIXTURES / "v2-document.bin").read_bytes())
    assert len(set(per_lv(ol))) > 3 and 0 in per_lv(ol)
    ops = decode_patch((FIXTURES / "v2-patch.bin").read_bytes())
    assert times(replay(ops)) == times(ol)
