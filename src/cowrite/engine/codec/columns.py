"""The column pieces shared by the document and patch encodings.

Both encodings store each field of their runs as its own column of small
varints (agents as runs of one index, positions as deltas from a prediction,
times as runs), because the op log's columns are very regular: one agent types
for a while, positions move by a character or two, parents are "the previous
op".  Every reader checks each count against the bytes left before allocating
anything for it, and raises :class:`DecodeError` with what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import DecodeError, InvalidOpError
from ..causal_graph import Frontier
from ..limits import MAX_AGENT_LEN, MAX_TIME
from ..oplog import INS
from .varint import Reader, write_block, write_svar, write_uvar

__all__ = [
    "decode_utf8",
    "predict",
    "read_agents",
    "read_content",
    "read_frontier",
    "read_rle",
    "read_times",
    "rle",
    "utf8",
    "write_agents",
    "write_frontier",
    "write_times",
]


def utf8(text: str, what: str) -> bytes:
    """Strict UTF-8: text holding lone surrogates is not Unicode and cannot be stored."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidOpError(f"{what} contains lone surrogates; it cannot be encoded") from None


def decode_utf8(b: bytes, what: str) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"corrupt data: {what} is not valid UTF-8") from None


def predict(kind: int, pos: int, n: int) -> int:
    """Where the next run probably starts: after typing, its end; after deleting, its start."""
    return pos + n if kind == INS else pos


# -- runs of one value -------------------------------------------------------------------


def rle(values: Sequence[int]) -> bytearray:
    """(value, repeat) pairs: agent columns are long runs of one author."""
    out = bytearray()
    i = 0
    n = len(values)
    while i < n:
        v = values[i]
        j = i + 1
        while j < n and values[j] == v:
            j += 1
        write_uvar(out, v)
        write_uvar(out, j - i)
        i = j
    return out


def read_rle(r: Reader, n: int, limit: int, what: str) -> list[int]:
    """``n`` values from (value, repeat) pairs; each value must be below ``limit``."""
    out: list[int] = []
    while len(out) < n:
        v = r.uvar()
        k = r.uvar()
        if v >= limit:
            raise DecodeError(f"corrupt data: {what} {v} out of range (only {limit})")
        if k == 0 or k > n - len(out):
            raise DecodeError(f"corrupt data: bad run length in {what} column")
        out.extend([v] * k)
    r.done(f"{what} column")
    return out


# -- the agent table -----------------------------------------------------------------


def write_agents(out: bytearray, agents: Sequence[str]) -> None:
    write_uvar(out, len(agents))
    for a in agents:
        write_block(out, utf8(a, "agent name"))


def read_agents(r: Reader) -> list[str]:
    n = r.count("agents")
    agents: list[str] = []
    seen: set[str] = set()
    for _ in range(n):
        raw = r.block()
        if raw.left() > 4 * MAX_AGENT_LEN:
            raise DecodeError("corrupt data: agent name too long")
        name = decode_utf8(raw.take(raw.left()), "agent name")
        if not name or len(name) > MAX_AGENT_LEN:
            raise DecodeError(f"corrupt data: agent names must have 1..{MAX_AGENT_LEN} characters")
        if name in seen:
            raise DecodeError(f"corrupt data: agent {name!r} listed twice")
        seen.add(name)
        agents.append(name)
    return agents


# -- frontiers -----------------------------------------------------------------------


def write_frontier(out: bytearray, f: Sequence[int]) -> None:
    """``k``, the first LV, then ascending deltas."""
    write_uvar(out, len(f))
    prev = 0
    for i, v in enumerate(f):
        write_uvar(out, v if i == 0 else v - prev)
        prev = v


def read_frontier(r: Reader, limit: int, what: str) -> Frontier:
    k = r.count(f"{what} LVs")
    out: list[int] = []
    prev = -1
    for i in range(k):
        d = r.uvar()
        v = d if i == 0 else prev + d
        if i and d == 0:
            raise DecodeError(f"corrupt data: {what} is not strictly ascending")
        if v >= limit:
            raise DecodeError(f"corrupt data: {what} names LV {v} but the log has {limit}")
        out.append(v)
        prev = v
    return tuple(out)


# -- inserted text -------------------------------------------------------------------


def read_content(r: Reader, n_chars: int) -> str:
    """A block of UTF-8 holding exactly ``n_chars`` code points."""
    raw = r.block()
    nb = raw.left()
    if not n_chars <= nb <= 4 * n_chars:
        raise DecodeError("corrupt data: inserted text size does not match the insert lengths")
    content = decode_utf8(raw.take(nb), "inserted text")
    if len(content) != n_chars:
        raise DecodeError("corrupt data: inserted text length does not match the insert lengths")
    return content


# -- times ---------------------------------------------------------------------------


def write_times(out: bytearray, runs: Sequence[tuple[int, int]]) -> None:
    """The times section: ``(run length, time)`` runs as a count and a block of pairs."""
    pairs = bytearray()
    prev = 0
    for n, t in runs:
        write_uvar(pairs, n)
        write_svar(pairs, t - prev)
        prev = t
    write_uvar(out, len(runs))
    write_block(out, pairs)


def read_times(r: Reader, total: int, unit: str) -> tuple[list[int], list[int]]:
    """A times section covering exactly ``total`` LVs/ops: (run starts, run times)."""
    n_runs = r.uvar()
    b = r.block()
    room = b.left() // 2  # a run takes at least two bytes
    if n_runs > room:
        raise DecodeError(f"corrupt data: {n_runs} time runs claimed but only room for {room}")
    starts: list[int] = []
    values: list[int] = []
    covered = 0
    prev = 0
    for i in range(n_runs):
        k = b.uvar()
        if k == 0:
            raise DecodeError("corrupt data: empty time run")
        t = prev + b.svar()
        if not 0 <= t < MAX_TIME:
            raise DecodeError(f"corrupt data: time {t} out of range")
        if i and t == prev:
            raise DecodeError("corrupt data: two consecutive time runs have the same time")
        if k > total - covered:
            raise DecodeError(f"corrupt data: time runs cover more {unit} than the {total} there are")
        starts.append(covered)
        values.append(t)
        covered += k
        prev = t
    b.done("times")
    if covered != total:
        raise DecodeError(f"corrupt data: time runs cover {covered} {unit} but there are {total}")
    return starts, values
