"""Every real editing trace in ../shared/traces replays to its endContent exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cowrite.replay import replay
from cowrite.traces import Txn, load_trace

TRACES = Path(os.environ.get("COWRITE_TRACES", Path(__file__).resolve().parents[2] / "shared" / "traces"))
FILES = sorted(TRACES.glob("*/*.json.gz"))


def test_traces_are_present() -> None:
    if not FILES and not os.environ.get("CI"):
        pytest.skip(f"no traces found under {TRACES}")
    assert len(FILES) >= 10, f"expected the shared traces under {TRACES}"


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name.split('.')[0]}" for p in FILES])
def test_trace_replays_exactly(path: Path) -> None:
    trace = load_trace(path)
    assert trace.end_content is not None
    assert replay(trace) == trace.end_content


@pytest.mark.parametrize("path", [p for p in FILES if p.parent.name == "concurrent"], ids=lambda p: p.name)
def test_concurrent_trace_in_another_topological_order(path: Path) -> None:
    """Txns may come in any topological order: reverse the order among ready txns."""
    trace = load_trace(path)
    txns = trace.txns
    children: dict[int, list[int]] = {i: [] for i in range(len(txns))}
    pending = [len(t.parents) for t in txns]
    for i, t in enumerate(txns):
        for p in t.parents:
            children[p].append(i)
    ready = [i for i, n in enumerate(pending) if n == 0]
    order: list[int] = []
    while ready:
        i = ready.pop()  # LIFO: a depth-first order, very unlike the file's
        order.append(i)
        for c in children[i]:
            pending[c] -= 1
            if pending[c] == 0:
                ready.append(c)
    assert len(order) == len(txns)
    new_index = {old: new for new, old in enumerate(order)}
    trace.txns = [
        Txn(txns[old].patches, tuple(new_index[p] for p in txns[old].parents), txns[old].agent) for old in order
    ]
    assert replay(trace) == trace.end_content


SEQUENTIAL = [p for p in FILES if p.parent.name == "sequential"][:3]


@pytest.mark.parametrize("path", SEQUENTIAL, ids=lambda p: p.name.split(".")[0])
def test_undo_every_step_back_and_redo_them_all_restores_every_text(path: Path) -> None:
    """A real editing session, every patch one undo step: undoing 1500 steps walks
    back through exactly the texts the author saw, and redo walks forward again.
    (Re-typed characters are new characters; this is where losing track of them,
    or of their order against older tombstones, shows.)"""
    from cowrite.engine import Document, UndoManager

    patches = load_trace(path).flat_patches()[:3000]
    doc = Document("author", clock=lambda: 0)
    um = UndoManager(doc, clock=lambda: 0.0)
    texts = [doc.text]
    for pos, n_del, ins in patches:
        if n_del:
            doc.delete(pos, n_del)
        if ins:
            doc.insert(pos, ins)
        um.stop_capturing()
        texts.append(doc.text)
    steps = min(1500, len(patches))
    for k in range(1, steps + 1):
        assert um.undo() is not None
        assert doc.text == texts[-1 - k], f"after undo {k}"
    for k in range(steps, 0, -1):
        assert um.redo() is not None
        assert doc.text == texts[-k], f"after redo {steps - k + 1}"


# -- the loader (cowrite.traces): bad files fail with a TraceError saying where --------------

BAD_TRACES = {
    "not json": b"{",
    "no txns": b'{"endContent": ""}',
    "txns not a list": b'{"txns": {}}',
    "txn not an object": b'{"txns": [3]}',
    "patch too short": b'{"txns": [{"patches": [[0, 0]]}]}',
    "negative position": b'{"txns": [{"patches": [[-1, 0, "a"]]}]}',
    "text not a string": b'{"txns": [{"patches": [[0, 0, 5]]}]}',
    "bool as position": b'{"txns": [{"patches": [[true, 0, "a"]]}]}',
    "start content": b'{"startContent": "x", "txns": []}',
    "end content not a string": b'{"endContent": 1, "txns": []}',
    "parent not earlier": b'{"kind": "concurrent", "txns": [{"patches": [], "parents": [0], "agent": 0}]}',
    "parents missing": b'{"kind": "concurrent", "txns": [{"patches": [], "agent": 0}]}',
    "agent missing": b'{"kind": "concurrent", "txns": [{"patches": [], "parents": []}]}',
}


@pytest.mark.parametrize("name", sorted(BAD_TRACES))
def test_malformed_traces_raise_trace_error(tmp_path: Path, name: str) -> None:
    from cowrite.errors import TraceError

    path = tmp_path / "t.json"
    path.write_bytes(BAD_TRACES[name])
    with pytest.raises(TraceError):
        load_trace(path)


def test_missing_file_and_bad_gzip_raise_trace_error(tmp_path: Path) -> None:
    from cowrite.errors import TraceError

    with pytest.raises(TraceError, match="cannot read"):
        load_trace(tmp_path / "missing.json")
    bad = tmp_path / "t.json.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not gzip")
    with pytest.raises(TraceError, match="cannot read"):
        load_trace(bad)


def test_concurrent_agents_are_numbered(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(
        b'{"kind": "concurrent", "endContent": "ab", "txns": ['
        b'{"patches": [[0, 0, "a"]], "parents": [], "agent": "zoe"},'
        b'{"patches": [[1, 0, "b"]], "parents": [0], "agent": "ada"}]}'
    )
    trace = load_trace(path)
    assert [t.agent for t in trace.txns] == [0, 1] and trace.num_agents == 2
    assert replay(trace) == "ab"
