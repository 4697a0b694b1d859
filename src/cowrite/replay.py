"""Replaying editing traces (loaded by :mod:`cowrite.traces`) through the engine.

Sequential traces are one user's edits, applied as local edits one patch at a time.
Concurrent traces name, for every txn, the txns it was made on top of: each txn is
recorded by its agent at exactly that version (as a real peer would have made it)
and everything is merged by the Eg-walker.  Txns may come in any topological order.
"""

from __future__ import annotations

from .engine import Document, InvalidOpError, OpLog, checkout
from .traces import Trace, load_trace

__all__ = ["load_trace", "replay"]


def replay(trace: Trace) -> str:
    """The final text of a trace.  Raises a CowriteError if a patch does not fit the text."""
    return _replay_concurrent(trace) if trace.is_concurrent else _replay_sequential(trace)


def _replay_sequential(trace: Trace) -> str:
    doc = Document("trace")
    insert = doc.insert
    delete = doc.delete
    for i, txn in enumerate(trace.txns):
        try:
            for pos, ndel, ins in txn.patches:
                if ndel:
                    delete(pos, ndel)
                if ins:
                    insert(pos, ins)
        except InvalidOpError as exc:
            raise InvalidOpError(f"txn {i}: {exc}") from exc
    return doc.text


def _replay_concurrent(trace: Trace) -> str:
    oplog = OpLog()
    cg = oplog.cg
    ends: list[tuple[int, ...]] = []  # frontier after each txn
    for i, txn in enumerate(trace.txns):
        frontier: list[int] = []
        for p in txn.parents:
            frontier.extend(ends[p])
        version = cg.reduce(frontier) if len(frontier) > 1 else tuple(frontier)
        name = f"agent{txn.agent}"
        try:
            for pos, ndel, ins in txn.patches:
                if ndel:
                    lv = oplog.add_delete(name, pos, ndel, version)
                    version = (lv + ndel - 1,)
                if ins:
                    lv = oplog.add_insert(name, pos, ins, version)
                    version = (lv + len(ins) - 1,)
        except InvalidOpError as exc:
            raise InvalidOpError(f"txn {i}: {exc}") from exc
        ends.append(version)
    return str(checkout(oplog).text)
