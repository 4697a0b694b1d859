"""The encoding of a whole document (``codec/document.py``): round trips, canonical
bytes, consistency checks on forged documents, and sizes on real traces."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import DecodeError, Document
from cowrite.engine.branch import checkout
from cowrite.engine.codec import decode_document, decode_patch, encode_document, encode_patch
from cowrite.engine.oplog import OpLog, copy_oplog
from oplog_helpers import build, edit, random_time_columns, replay, times

from .helpers import TRACES, action, assert_same_doc, run_session, small_doc


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


def test_concurrent_double_delete_in_one_op_run_round_trips() -> None:
    """Two agents delete the same character concurrently; their adjacent DEL_FWD ops share
    one op run (pos 0, length 2) in a one-character document.  That must still decode."""
    docs = run_session([("ins", 1, 0.0, "a"), ("sync", 1, 0), ("del", 0, 0.0, 1), ("del", 1, 0.0, 1), ("sync", 0, 1)])
    d = docs[1]
    assert (d.oplog.op_pos[-1], d.oplog.op_lens[-1]) == (0, 2) and d.text == ""
    assert_same_doc(d, Document.decode(d.encode()))


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


# -- times (format version 2) ---------------------------------------------------------------


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit, max_size=30))
def test_documents_and_patches_keep_times(edits: list[tuple[str, str, float, str, int]]) -> None:
    ol, text = build(edits)
    data = encode_document(ol, text, ol.heads)
    ol2, text2, version2 = decode_document(data)
    assert (text2, version2) == (text, ol.heads)
    assert times(ol2) == times(ol)
    assert encode_document(ol2, text2, version2) == data
    ops = ol.ops_since(())
    patch = encode_patch(ops)
    assert decode_patch(patch) == ops
    assert times(replay(decode_patch(patch))) == times(ol)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1), st.text("pq", min_size=1, max_size=4)), max_size=15))
def test_concurrent_documents_keep_random_times(data: st.DataObject, steps: list[tuple[int, float, str]]) -> None:
    a, b = Document("a"), Document("b")
    for who, frac, content in steps:
        d = (a, b)[who]
        d.insert(int(frac * len(d)), content)
        if content.startswith("q"):
            (b, a)[who].merge(d)
    a.merge(b)
    ol = copy_oplog(a.oplog)
    ol.time_starts, ol.time_values = random_time_columns(data, len(ol))
    enc = encode_document(ol, a.text, a.branch.version)
    ol2, text2, _ = decode_document(enc)
    assert text2 == a.text and times(ol2) == times(ol)
    ops = ol.ops_since(())
    assert decode_patch(encode_patch(ops)) == ops
