"""Every real editing trace in ../shared/traces replays to its endContent exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cowrite.replay import load_trace, replay

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
    pending = [len(t["parents"]) for t in txns]
    for i, t in enumerate(txns):
        for p in t["parents"]:
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
        {**txns[old], "parents": [new_index[p] for p in txns[old]["parents"]]} for old in order
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

    patches = [tuple(p) for txn in load_trace(path).txns for p in txn["patches"]][:3000]
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
