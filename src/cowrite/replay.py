"""Replaying editing traces (the ``josephg/editing-traces`` format) through the engine.

Sequential traces are one user's edits, applied as local edits one patch at a time.
Concurrent traces name, for every txn, the txns it was made on top of: each txn is
recorded by its agent at exactly that version (as a real peer would have made it)
and everything is merged by the Eg-walker.  Txns may come in any topological order.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import Document, InvalidOpError, OpLog, checkout
from .errors import TraceError

__all__ = ["TraceError", "Trace", "load_trace", "replay"]


@dataclass
class Trace:
    concurrent: bool
    txns: list[Any]
    end_content: str | None


def _loads(raw: bytes) -> Any:
    try:
        import orjson

        return orjson.loads(raw)
    except ImportError:  # pragma: no cover - orjson is a dependency, but stay usable without
        return json.loads(raw)


def load_trace(path: str | Path) -> Trace:
    p = Path(path)
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise TraceError(f"cannot read {p}: {exc}") from exc
    try:
        data = _loads(raw)
    except ValueError as exc:
        raise TraceError(f"{p} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("txns"), list):
        raise TraceError(f"{p} is not a trace: expected an object with a 'txns' list")
    end = data.get("endContent")
    if end is not None and not isinstance(end, str):
        raise TraceError("'endContent' must be a string")
    start = data.get("startContent", "")
    if start not in ("", None):
        raise TraceError("traces with a non-empty 'startContent' are not supported")
    return Trace(data.get("kind") == "concurrent", data["txns"], end)


def _patches(txn: Any, i: int) -> list[tuple[int, int, str]]:
    if not isinstance(txn, dict) or not isinstance(txn.get("patches"), list):
        raise TraceError(f"txn {i}: expected an object with a 'patches' list")
    out = []
    for p in txn["patches"]:
        if (
            not isinstance(p, list)
            or len(p) != 3
            or type(p[0]) is not int
            or type(p[1]) is not int
            or not isinstance(p[2], str)
        ):
            raise TraceError(f"txn {i}: bad patch {p!r}: expected [pos, n_deleted, inserted_text]")
        if p[0] < 0 or p[1] < 0:
            raise TraceError(f"txn {i}: negative position or length in patch {p!r}")
        out.append((p[0], p[1], p[2]))
    return out


def replay(trace: Trace) -> str:
    """The final text of a trace.  Raises TraceError or a CowriteError on bad input."""
    return _replay_concurrent(trace) if trace.concurrent else _replay_sequential(trace)


def _replay_sequential(trace: Trace) -> str:
    doc = Document("trace")
    insert = doc.insert
    delete = doc.delete
    for i, txn in enumerate(trace.txns):
        try:
            patches = txn["patches"]
            for pos, ndel, ins in patches:
                if ndel:
                    delete(pos, ndel)
                if ins:
                    insert(pos, ins)
        except (TypeError, KeyError, ValueError) as exc:
            if isinstance(exc, InvalidOpError):
                raise InvalidOpError(f"txn {i}: {exc}") from exc
            _patches(txn, i)  # raises a precise TraceError
            raise TraceError(f"txn {i}: malformed patch") from exc
    return doc.text


def _replay_concurrent(trace: Trace) -> str:
    oplog = OpLog()
    cg = oplog.cg
    ends: list[tuple[int, ...]] = []  # frontier after each txn
    for i, txn in enumerate(trace.txns):
        patches = _patches(txn, i)
        parents_idx = txn.get("parents")
        agent = txn.get("agent")
        if not isinstance(parents_idx, list) or not all(type(p) is int for p in parents_idx):
            raise TraceError(f"txn {i}: 'parents' must be a list of txn indexes")
        if type(agent) is not int and not isinstance(agent, str):
            raise TraceError(f"txn {i}: 'agent' must be an integer or string")
        frontier: list[int] = []
        for p in parents_idx:
            if not 0 <= p < i:
                raise TraceError(f"txn {i}: parent {p} is not an earlier txn")
            frontier.extend(ends[p])
        version = cg.reduce(frontier) if len(frontier) > 1 else tuple(frontier)
        name = f"agent{agent}"
        for pos, ndel, ins in patches:
            if ndel:
                lv = oplog.add_delete(name, pos, ndel, version)
                version = (lv + ndel - 1,)
            if ins:
                lv = oplog.add_insert(name, pos, ins, version)
                version = (lv + len(ins) - 1,)
        ends.append(version)
    return str(checkout(oplog).text)
