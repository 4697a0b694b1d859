"""Replaying editing traces (loaded by :mod:`cowrite.traces`) through the engine.

Sequential traces are one user's edits, applied as local edits one patch at a time.
Concurrent traces name, for every txn, the txns it was made on top of: each txn is
recorded by its agent at exactly that version (as a real peer would have made it)
and everything is merged by the Eg-walker.  Txns may come in any topological order.
"""

from __future__ import annotations

import gc
import os
from itertools import chain
from typing import Any, NamedTuple

from .engine import Document, InvalidOpError, OpLog, checkout
from .traces import (
    Trace,
    check_txn,
    load_trace,
    patch_lists,
    read_trace_json,
    sequential_patches,
    trace_from_json,
)

__all__ = ["Replayed", "load_trace", "replay", "replay_file"]


class Replayed(NamedTuple):
    """What ``cowrite replay`` reports of a trace file."""

    text: str
    end_content: str | None
    num_txns: int


def replay_file(path: str | os.PathLike[str]) -> Replayed:
    """Read a trace file and replay it (``cowrite replay``): the final text.

    A sequential trace is never turned into a :class:`Trace`: its parsed patches go
    straight into one ``Document.apply_edits`` call, which checks each as it applies
    it (checking them in a pass of their own cost as much as parsing the file).  The
    errors are the loader's: a malformed txn or patch raises its
    :class:`~cowrite.errors.TraceError` (``txn i: bad patch ...``), a patch that does
    not fit the text ``InvalidOpError("txn i: ...")``.  Concurrent traces go
    through :func:`load_trace` and :func:`replay`.
    """
    # Nothing made here is garbage until the end: the collector would only rescan it.
    enabled = gc.isenabled()
    gc.disable()
    try:
        p, data = read_trace_json(path)
        end = data.get("endContent")
        raw_txns: list[Any] = data["txns"]
        if data.get("kind") == "concurrent":
            trace = trace_from_json(p, data)
            return Replayed(replay(trace), end, len(trace.txns))
        return Replayed(_replay_raw_sequential(raw_txns), end, len(raw_txns))
    finally:
        if enabled:
            gc.enable()


def _replay_raw_sequential(raw_txns: list[Any]) -> str:
    lists = patch_lists(raw_txns)
    if lists is not None:
        doc = Document("trace")
        try:
            doc.apply_edits(chain.from_iterable(lists))
            return doc.text
        except InvalidOpError:
            pass  # say which txn: replay again below, the way that keeps count
    doc = Document("trace")
    at = [0]  # the txn being read (kept by sequential_patches)
    try:
        doc.apply_edits(sequential_patches(raw_txns, at))
    except InvalidOpError as exc:
        i = at[0]
        check_txn(raw_txns[i], i)  # a malformed patch: the loader's TraceError
        raise InvalidOpError(f"txn {i}: {exc}") from exc
    return doc.text


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
