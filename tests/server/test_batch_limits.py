"""Limits on one OPS batch that a small frame cannot get around.

A deflated patch states its inflated size, and the server reads a patch's counts
(op runs, the bytes before its inserted text) before the engine builds anything:
a few KiB that claim 128 MiB of body, a million ops, or a parent list of a
hundred thousand ids are answered ``ERROR too_large`` (not fatal, with the batch
id) at the cost of a few KiB.  Memory is measured with tracemalloc.
"""

from __future__ import annotations

import os
import random
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hostile_patches as hp
from conftest import Harness
from cowrite.engine import Document, TooLargeError, decode_patch, encode_patch
from cowrite.errors import DecodeError
from cowrite.protocol import Ack, Error, ErrorCode, Join, Ops, Role, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession
from cowrite.protocol.server import Room
from cowrite.server import Limits

MiB = 1 << 20
EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "100"))


def _join(h: Harness) -> Any:
    ws = h.http.websocket_connect(f"/ws/notes?token={h.token(user='a', role='editor')}")
    ws.__enter__()
    s = ClientSession(Document("a"), "notes", user="a")
    for f in s.data_to_send():
        ws.send_bytes(f)
    s.receive(ws.receive_bytes())
    assert s.welcomed
    return ws


def _send(h: Harness, patch: bytes) -> tuple[Any, int]:
    """Send ``patch`` as batch 7 of agent "a"; the answer and the peak memory (bytes) meanwhile."""
    h.create()
    ws = _join(h)
    try:
        frame = encode_frame(Ops(7, patch))
        tracemalloc.start()
        try:
            ws.send_bytes(frame)
            answer = decode_frame(ws.receive_bytes())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        ws.__exit__(None, None, None)
    return answer, peak


def _too_large(answer: Any) -> None:
    assert isinstance(answer, Error), answer
    assert answer.code is ErrorCode.TOO_LARGE and not answer.fatal and answer.batch_id == 7, answer


def test_a_patch_claiming_a_128_mib_body_is_refused_before_it_is_inflated(harness: Harness) -> None:
    patch = hp.zeros_claiming(128 * MiB)  # ~127 KiB
    answer, peak = _send(harness, patch)
    _too_large(answer)
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB"  # it used to inflate it all: 256 MiB
    assert harness.http.get("/api/docs/notes/text", headers=harness.auth()).text == ""


def test_a_patch_of_200k_ops_in_846_bytes_is_refused_before_they_are_built(harness: Harness) -> None:
    patch = hp.many_ops(200_000)
    assert len(patch) < 1000
    answer, peak = _send(harness, patch)
    _too_large(answer)
    assert "op runs" in answer.message
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB"  # 74 MiB of ops before


def test_more_op_runs_than_a_batch_may_carry_are_refused_and_change_nothing(harness: Harness) -> None:
    n = 4097  # Limits().max_batch_ops + 1
    answer, _ = _send(harness, hp.many_inserts(n))  # valid ops: applied before
    _too_large(answer)
    assert "at most 4096 op runs" in answer.message
    assert harness.http.get("/api/docs/notes/text", headers=harness.auth()).text == ""


def test_a_parent_list_of_120k_ids_is_refused_before_it_is_built(harness: Harness) -> None:
    answer, peak = _send(harness, hp.many_parents(120_000))
    _too_large(answer)
    assert "metadata" in answer.message
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB"


def test_a_patch_naming_60k_agents_is_refused_before_they_are_built(harness: Harness) -> None:
    answer, _ = _send(harness, hp.many_agents(60_000))
    _too_large(answer)
    assert harness.http.get("/api/docs/notes/text", headers=harness.auth()).text == ""


def test_the_inflated_body_limit_is_a_setting(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=Limits(max_patch_bytes=1000))
    d = Document("a")
    d.insert(0, "x" * 2000)  # compresses to a few bytes: refused by its stated size
    answer, _ = _send(h, d.encode_patch())
    _too_large(answer)
    assert "over the limit of 1000" in answer.message


def test_inserted_text_the_document_limit_cannot_take_is_refused_before_decoding(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=Limits(max_doc_chars=100))
    answer, _ = _send(h, hp.big_insert(1000))
    _too_large(answer)
    assert "100 characters" in answer.message


# -- what the worst frames that are allowed cost -------------------------------------------


def _server_room() -> tuple[Room, Any]:
    lim = Limits()
    room = Room(
        "d",
        Document("server"),
        max_doc_len=lim.max_doc_chars,
        max_patch_bytes=lim.max_patch_bytes,
        max_batch_ops=lim.max_batch_ops,
        max_batch_meta_bytes=lim.max_batch_meta_bytes,
        max_history_ops=lim.max_history_ops,
        max_history_runs=lim.max_history_runs,
    )
    session, _ = room.join(Join("d", "a", {}), user="u", role=Role.EDITOR)
    return room, session


@pytest.mark.parametrize(
    "make, budget",
    [
        (lambda: hp.many_inserts(Limits().max_batch_ops), 8 * MiB),  # accepted: 4096 runs
        (lambda: hp.many_ops(Limits().max_batch_ops, deflate=False), 8 * MiB),
        (lambda: hp.many_parents(60_000), 16 * MiB),  # the longest parent list under the metadata limit
        (lambda: hp.many_agents(37_000), 16 * MiB),  # the most agents under it
        (lambda: hp.big_insert(4_000_000), 48 * MiB),  # 4 M characters the document keeps, at 4 bytes each
    ],
    ids=["4096-inserts", "4096-deletes", "60k-parents", "37k-agents", "4M-chars"],
)
def test_the_worst_allowed_frames_cost_little_memory(make: Callable[[], bytes], budget: int) -> None:
    room, session = _server_room()
    frame = encode_frame(Ops(1, make()))
    assert len(frame) <= Limits().max_message_bytes
    tracemalloc.start()
    try:
        pending = room.submit(session, frame, Limits().max_message_bytes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pending.error is None or pending.error.code is not ErrorCode.TOO_LARGE, pending.error
    assert peak < budget, f"{peak / MiB:.1f} MiB"
    pending.commit()


# -- the counts are the decoder's --------------------------------------------------------


def _patches(draw: st.DrawFn) -> bytes:
    rng = random.Random(draw(st.integers(0, 2**32)))
    # A fixed clock: op times are encoded, and a patch must not depend on when it is drawn
    # (hypothesis replays a draw and expects the same bytes).
    docs = [Document(f"agent-{i}", clock=lambda: 1_700_000_000) for i in range(rng.randint(1, 3))]
    for _ in range(rng.randint(1, 40)):
        d = rng.choice(docs)
        if len(d) and rng.random() < 0.3:
            p = rng.randrange(len(d))
            d.delete(p, rng.randint(1, min(5, len(d) - p)))
        else:
            d.insert(rng.randint(0, len(d)), rng.choice(["a", "hello ", "é", "👋", "x" * rng.randint(1, 300)]))
        if rng.random() < 0.3:
            other = rng.choice(docs)
            other.merge(d)
    return encode_patch(rng.choice(docs).ops_since(()))


patches = st.composite(_patches)


@settings(max_examples=EXAMPLES)
@given(patches())
def test_patch_shape_reads_what_the_decoder_reads(patch: bytes) -> None:
    from cowrite.protocol.server import patch_shape

    ops = decode_patch(patch)
    runs, content = patch_shape(patch, max_body=1 << 30, max_meta=1 << 30, max_ops=1 << 30)
    assert runs == len(ops)
    assert content == len("".join(op.content for op in ops).encode())


@settings(max_examples=EXAMPLES)
@given(patches(), st.data())
def test_patch_shape_never_refuses_a_patch_the_decoder_takes(patch: bytes, data: st.DataObject) -> None:
    """Damaged patches: whatever the decoder accepts, the scan reads the same count of."""
    from cowrite.protocol.server import patch_shape

    raw = bytearray(patch)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(9, len(raw)))
    damaged = bytes(raw[:cut])
    try:
        ops = decode_patch(damaged)
    except (DecodeError, TooLargeError):
        ops = None
    try:
        shape: tuple[int, int] | None = patch_shape(damaged, max_body=1 << 30, max_meta=1 << 30, max_ops=1 << 30)
    except DecodeError:
        shape = None
    if ops is not None:
        assert shape is not None and shape[0] == len(ops)


def test_a_deflated_patch_is_scanned_without_inflating_past_the_metadata_limit() -> None:
    from cowrite.protocol.server import patch_shape

    d = Document("a")
    d.insert(0, "abc" * 500_000)  # 1.5 MB of text, deflated to a few KiB
    patch = d.encode_patch()
    tracemalloc.start()
    try:
        runs, content = patch_shape(patch, max_body=4 * MiB, max_meta=64 << 10, max_ops=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (runs, content) == (1, 1_500_000)
    assert peak < 1 * MiB


def test_after_a_refused_batch_the_connection_keeps_working(harness: Harness) -> None:
    h = harness
    h.create()
    ws = _join(h)
    try:
        ws.send_bytes(encode_frame(Ops(3, hp.many_ops(10_000))))
        err = decode_frame(ws.receive_bytes())
        assert isinstance(err, Error) and err.code is ErrorCode.TOO_LARGE and err.batch_id == 3 and not err.fatal
        d = Document("a")
        d.insert(0, "fine")
        ws.send_bytes(encode_frame(Ops(4, d.encode_patch())))
        assert isinstance(decode_frame(ws.receive_bytes()), Ack)
    finally:
        ws.__exit__(None, None, None)
    assert h.http.get("/api/docs/notes/text", headers=h.auth()).text == "fine"
