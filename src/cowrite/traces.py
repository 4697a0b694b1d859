"""Editing traces (the ``josephg/editing-traces`` format): the one loader.

``cowrite replay``, the benchmarks (``bench/``) and the tests read traces through
:func:`load_trace`, so a trace means the same thing everywhere and a malformed one
fails with the same :class:`~cowrite.errors.TraceError` saying where.

Two kinds (see the traces' README):

* sequential: ``{"startContent": "", "endContent": ..., "txns": [{"patches": [[pos,
  n_deleted, inserted], ...]}, ...]}``, the patches applied in order;
* concurrent: ``"kind": "concurrent"``, and each txn also names its ``agent`` and
  its ``parents`` (indexes of earlier txns whose merged state it was made on).

Positions are Unicode code points.  The loader checks the whole shape once, so
whoever replays a trace can trust it; it costs about as much as the JSON parse.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from operator import itemgetter
from typing import Any, NamedTuple

from .errors import TraceError

__all__ = [
    "Patch",
    "Trace",
    "Txn",
    "check_txn",
    "load_trace",
    "patch_lists",
    "read_trace_json",
    "sequential_patches",
    "trace_from_json",
    "trace_label",
]

Patch = tuple[int, int, str]
"""One edit: delete ``n_deleted`` code points at ``pos``, then insert ``text`` at ``pos``."""


class Txn(NamedTuple):
    """One transaction: patches applied in order by ``agent`` at the version ``parents``.

    A named tuple: a long trace has a quarter of a million of them."""

    patches: tuple[Patch, ...]
    parents: tuple[int, ...] = ()
    agent: int = 0


@dataclass
class Trace:
    """A loaded trace; ``kind`` is ``"sequential"`` or ``"concurrent"``."""

    name: str
    kind: str
    end_content: str | None
    txns: list[Txn]
    num_agents: int = 1
    path: Path | None = None
    _vv: list[tuple[int, ...]] | None = field(default=None, repr=False)

    @property
    def is_concurrent(self) -> bool:
        return self.kind == "concurrent"

    @property
    def num_patches(self) -> int:
        return sum(len(t.patches) for t in self.txns)

    def flat_patches(self) -> list[Patch]:
        """All patches in file order (for a sequential trace: the order to apply them)."""
        return [p for txn in self.txns for p in txn.patches]

    def is_ascii(self) -> bool:
        """True when no inserted text is non-ASCII (so byte offsets == code points)."""
        return all(p[2].isascii() for txn in self.txns for p in txn.patches)

    def agent_txns(self) -> list[list[int]]:
        """Txn indexes of each agent, in that agent's (total) order."""
        out: list[list[int]] = [[] for _ in range(self.num_agents)]
        for i, txn in enumerate(self.txns):
            out[txn.agent].append(i)
        return out

    def version_vectors(self) -> list[tuple[int, ...]]:
        """For each txn, the version *after* it as a vector of per-agent txn counts.

        ``vv[i][a]`` is how many of agent ``a``'s txns txn ``i`` has seen (itself
        included).  Each agent's txns being totally ordered, the ancestors of a txn
        are exactly "the first ``vv[a]`` txns of every agent ``a``"; that premise is
        checked here (:class:`TraceError` if it fails).
        """
        if self._vv is not None:
            return self._vv
        seq = [0] * self.num_agents
        vv: list[tuple[int, ...]] = []
        for i, txn in enumerate(self.txns):
            cur = [0] * self.num_agents
            for p in txn.parents:
                cur = [max(x, y) for x, y in zip(cur, vv[p], strict=True)]
            a = txn.agent
            if cur[a] != seq[a]:
                raise TraceError(f"{self.name}: txn {i} of agent {a} does not follow that agent's previous txn")
            seq[a] += 1
            cur[a] = seq[a]
            vv.append(tuple(cur))
        self._vv = vv
        return vv


def trace_label(path: Path) -> str:
    """Short unique label: ``automerge-paper`` or ``concurrent/friendsforever``."""
    stem = path.name.removesuffix(".gz").removesuffix(".json")
    return f"concurrent/{stem}" if path.parent.name == "concurrent" else stem


def _loads(raw: bytes) -> Any:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency, but stay usable without
        return json.loads(raw)
    return orjson.loads(raw)


def _bad_patch(i: int, p: object) -> TraceError:
    return TraceError(f"txn {i}: bad patch {p!r}: expected [pos >= 0, n_deleted >= 0, inserted_text]")


def _patches(txn: object, i: int) -> tuple[Patch, ...]:
    if not isinstance(txn, dict) or not isinstance(txn.get("patches"), list):
        raise TraceError(f"txn {i}: expected an object with a 'patches' list")
    out = []
    for p in txn["patches"]:
        if type(p) is not list or len(p) != 3:
            raise _bad_patch(i, p)
        pos, n, ins = p
        if type(pos) is not int or type(n) is not int or type(ins) is not str or pos < 0 or n < 0:
            raise _bad_patch(i, p)
        out.append((pos, n, ins))
    return tuple(out)


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Load and check a sequential or concurrent trace (``.json`` or ``.json.gz``).

    Raises :class:`TraceError` saying what is wrong (unreadable, not JSON, not a
    trace, a bad txn or patch, a parent that is not an earlier txn).
    """
    # Millions of small objects that all stay alive: the cyclic collector would only
    # rescan them over and over while they are made.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(Path(path))
    finally:
        if enabled:
            gc.enable()


def read_trace_json(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """The file's JSON object with its top level checked (a ``txns`` list, a string
    ``endContent`` if any, an empty ``startContent``); the txns are left as parsed.

    For a replay that checks each patch as it applies it (:func:`sequential_patches`)
    instead of in a pass of its own; :func:`trace_from_json` makes the checked
    :class:`Trace` of it.  Raises :class:`TraceError` like :func:`load_trace`.
    """
    p = Path(path)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return p, _read(p)
    finally:
        if enabled:
            gc.enable()


def sequential_patches(raw_txns: list[Any], at: list[int]) -> Iterator[Any]:
    """The patches of parsed txns in order, as the file has them: *unchecked* -- the
    consumer checks every patch as it applies it (``Document.apply_edits`` does).

    ``at[0]`` is kept at the index of the txn being read, so an error can say which
    txn; a txn that is not an object with a ``patches`` list raises the loader's
    :class:`TraceError`.  A bad patch is told apart with :func:`check_txn`.
    """
    for i, t in enumerate(raw_txns):
        at[0] = i
        if type(t) is not dict or type(ps := t.get("patches")) is not list:
            raise TraceError(f"txn {i}: expected an object with a 'patches' list")
        yield from ps


def patch_lists(raw_txns: list[Any]) -> list[list[Any]] | None:
    """Each parsed txn's ``patches`` list, the patches unchecked, or ``None`` if some
    txn is not an object with a ``patches`` list (then :func:`sequential_patches`
    says which).  The checks run at C speed: a quarter of a million one-patch txns
    cost a fifth of the replay through a generator that checks each in turn."""
    if not set(map(type, raw_txns)) <= {dict}:
        return None
    try:
        lists = list(map(itemgetter("patches"), raw_txns))
    except KeyError:
        return None
    return lists if set(map(type, lists)) <= {list} else None


def check_txn(raw_txn: object, i: int) -> None:
    """Raise the loader's :class:`TraceError` if parsed txn ``i`` is malformed."""
    _patches(raw_txn, i)


def _load(p: Path) -> Trace:
    return trace_from_json(p, _read(p))


def _read(p: Path) -> dict[str, Any]:
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise TraceError(f"cannot read {p}: {exc}") from exc
    try:
        data = _loads(raw)
    except ValueError as exc:
        raise TraceError(f"{p} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("txns"), list):
        raise TraceError(f"{p} is not a trace: expected an object with a 'txns' list")
    end = data.get("endContent")
    if end is not None and not isinstance(end, str):
        raise TraceError(f"{p}: 'endContent' must be a string")
    if data.get("startContent", "") not in ("", None):
        raise TraceError(f"{p}: traces with a non-empty 'startContent' are not supported")
    return data


def trace_from_json(p: Path, data: dict[str, Any]) -> Trace:
    """The checked :class:`Trace` of what :func:`read_trace_json` read from ``p``."""
    end = data.get("endContent")
    concurrent = data.get("kind") == "concurrent"
    raw_txns: list[Any] = data["txns"]
    checked = [_patches(t, i) for i, t in enumerate(raw_txns)]
    if not concurrent:
        make = tuple.__new__  # Txn(patches) without the named tuple's Python-level __new__
        return _trace(p, "sequential", end, [make(Txn, (patches, (), 0)) for patches in checked], 1)
    txns: list[Txn] = []
    names: list[object] = []  # each concurrent txn's agent as the file names it
    for i, (t, patches) in enumerate(zip(raw_txns, checked)):
        parents = t.get("parents")
        agent = t.get("agent")
        if type(parents) is not list or not all(type(x) is int and 0 <= x < i for x in parents):
            raise TraceError(f"txn {i}: 'parents' must be a list of indexes of earlier txns")
        if not (type(agent) is int and agent >= 0) and not (isinstance(agent, str) and agent):
            raise TraceError(f"txn {i}: 'agent' must be a non-negative integer or a non-empty string")
        names.append(agent)
        txns.append(Txn(patches, tuple(parents)))
    num_agents = 1
    if concurrent:
        # Agents are numbered 0..N-1: as the file numbers them, or in order of appearance.
        index: dict[object, int] = {a: a for a in names if isinstance(a, int)}
        if len(index) != len(set(names)):
            index = {}
            for a in names:
                index.setdefault(a, len(index))
        txns = [Txn(t.patches, t.parents, index[a]) for t, a in zip(txns, names)]
        num_agents = max(index.values(), default=-1) + 1
    return _trace(p, "concurrent", end, txns, num_agents)


def _trace(p: Path, kind: str, end: str | None, txns: list[Txn], num_agents: int) -> Trace:
    return Trace(
        name=trace_label(p),
        kind=kind,
        end_content=end,
        txns=txns,
        num_agents=num_agents,
        path=p,
    )
