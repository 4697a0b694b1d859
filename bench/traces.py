"""Loading editing traces, and the small derived views every peer adapter needs.

Traces live in ``shared/traces`` (see its README): ``sequential/*.json.gz`` hold one
user's history, ``concurrent/*.json.gz`` hold several agents editing at once, each txn
naming its causal parents.  All positions are Unicode code points.

Everything here runs *outside* the timed regions, so clarity wins over speed, except
for :class:`Utf8Offsets`, which has to convert ~260k patches in a second or two.
"""

from __future__ import annotations

import bisect
import gzip
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: One edit: delete ``n_deleted`` code points at ``pos``, then insert ``text`` at ``pos``.
Patch = tuple[int, int, str]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where the traces are, overridable so CI or a developer can point elsewhere.
TRACES_DIR = Path(
    os.environ.get("COWRITE_TRACES", REPO_ROOT.parent / "shared" / "traces")
)


@dataclass(frozen=True)
class Txn:
    """One transaction: patches applied in order by ``agent`` at the version ``parents``."""

    patches: tuple[Patch, ...]
    parents: tuple[int, ...] = ()
    agent: int = 0


@dataclass
class Trace:
    """A loaded trace; ``kind`` is ``"sequential"`` or ``"concurrent"``."""

    name: str
    kind: str
    end_content: str
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

    def patches(self) -> Iterator[Patch]:
        """All patches in file order (for a sequential trace: the order to apply them)."""
        for txn in self.txns:
            yield from txn.patches

    def flat_patches(self) -> list[Patch]:
        return list(self.patches())

    def is_ascii(self) -> bool:
        """True when no inserted text is non-ASCII, so byte offsets == code points."""
        return all(p[2].isascii() for p in self.patches())

    # --- concurrent helpers ------------------------------------------------------------

    def agent_txns(self) -> list[list[int]]:
        """Txn indexes of each agent, in that agent's (total) order."""
        out: list[list[int]] = [[] for _ in range(self.num_agents)]
        for i, txn in enumerate(self.txns):
            out[txn.agent].append(i)
        return out

    def version_vectors(self) -> list[tuple[int, ...]]:
        """For each txn, the version *after* it as a vector of per-agent sequence numbers.

        ``vv[i][a]`` is the number of agent ``a``'s txns that txn ``i`` has seen
        (itself included).  Because each agent's txns are totally ordered, the set of
        ancestors of a txn is exactly "the first ``vv[a]`` txns of every agent ``a``",
        which lets the generators work out which txns a replica is missing without
        walking the graph.  That premise is checked here (ValueError if it fails).
        """
        if self._vv is not None:
            return self._vv
        seq = [0] * self.num_agents
        vv: list[tuple[int, ...]] = []
        for i, txn in enumerate(self.txns):
            cur = [0] * self.num_agents
            for p in txn.parents:
                if not 0 <= p < i:
                    raise ValueError(
                        f"{self.name}: txn {i} has parent {p} not listed before it"
                    )
                cur = [max(x, y) for x, y in zip(cur, vv[p], strict=True)]
            a = txn.agent
            if cur[a] != seq[a]:
                raise ValueError(
                    f"{self.name}: txn {i} of agent {a} does not follow that agent's previous txn"
                )
            seq[a] += 1
            cur[a] = seq[a]
            vv.append(tuple(cur))
        self._vv = vv
        return vv


def find_trace(name: str | os.PathLike[str]) -> Path:
    """Resolve ``"automerge-paper"``, ``"concurrent/clownschool"`` or a path to a file."""
    p = Path(name)
    if p.is_file():
        return p
    for base in (
        TRACES_DIR / p.parent,
        TRACES_DIR / "sequential",
        TRACES_DIR / "concurrent",
    ):
        for ext in (".json.gz", ".json", ""):
            cand = base / (p.name + ext)
            if cand.is_file():
                return cand
    raise FileNotFoundError(f"no trace named {name!r} under {TRACES_DIR}")


def trace_label(path: Path) -> str:
    """Short unique label: ``automerge-paper`` or ``concurrent/friendsforever``."""
    stem = path.name.removesuffix(".gz").removesuffix(".json")
    return f"concurrent/{stem}" if path.parent.name == "concurrent" else stem


def read_json(path: Path) -> dict[str, Any]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def load_trace(name: str | os.PathLike[str]) -> Trace:
    """Load a sequential or concurrent trace (``.json`` or ``.json.gz``)."""
    path = find_trace(name)
    raw = read_json(path)
    concurrent = raw.get("kind") == "concurrent"
    if not concurrent and raw.get("startContent", ""):
        # All published traces start empty; the adapters rely on it.
        raise ValueError(f"{path}: non-empty startContent is not supported")
    txns = [
        Txn(
            patches=tuple((int(p[0]), int(p[1]), str(p[2])) for p in t["patches"]),
            parents=tuple(t.get("parents", ())) if concurrent else (),
            agent=int(t.get("agent", 0)) if concurrent else 0,
        )
        for t in raw["txns"]
    ]
    return Trace(
        name=trace_label(path),
        kind="concurrent" if concurrent else "sequential",
        end_content=raw["endContent"],
        txns=txns,
        num_agents=int(raw.get("numAgents", 1)),
        path=path,
    )


def all_trace_paths() -> list[Path]:
    """Every trace file, sequential first, each group sorted by name."""
    seq = sorted((TRACES_DIR / "sequential").glob("*.json*"))
    con = sorted((TRACES_DIR / "concurrent").glob("*.json*"))
    return seq + con


def apply_patches_to_str(text: str, patches: Sequence[Patch]) -> str:
    """Plain-string reference replay (quadratic; used for small inputs and checks)."""
    for pos, n_del, ins in patches:
        text = text[:pos] + ins + text[pos + n_del :]
    return text


class Utf8Offsets:
    """Maps code-point positions to UTF-8 byte offsets while a document is being edited.

    pycrdt (Yrs with its default offset kind) indexes text by UTF-8 bytes, the traces by
    code points.  Recomputing ``len(text[:pos].encode())`` per patch is O(n) each; the
    traces have at most a few dozen non-ASCII characters, so this keeps a sorted list of
    the code-point positions of the non-ASCII characters and their extra byte counts.
    A conversion is a bisect plus a prefix sum over those few entries.
    """

    def __init__(self, text: str = "") -> None:
        self._pos: list[int] = []  # code-point positions of non-ASCII chars, sorted
        self._extra: list[int] = []  # len(char.encode()) - 1 for each of them
        if text:
            self.apply(0, 0, text)

    def byte_offset(self, pos: int) -> int:
        k = bisect.bisect_left(self._pos, pos)
        return pos + sum(self._extra[:k])

    def convert(self, pos: int, n_del: int, ins: str) -> tuple[int, int]:
        """Byte position and byte length for a patch (call before :meth:`apply`)."""
        start = self.byte_offset(pos)
        end = self.byte_offset(pos + n_del) if n_del else start
        return start, end - start

    def apply(self, pos: int, n_del: int, ins: str) -> None:
        """Update the map after deleting ``n_del`` chars at ``pos`` and inserting ``ins``."""
        if not self._pos and ins.isascii():
            return
        lo = bisect.bisect_left(self._pos, pos)
        hi = bisect.bisect_left(self._pos, pos + n_del)
        del self._pos[lo:hi]
        del self._extra[lo:hi]
        shift = len(ins) - n_del
        if shift:
            for k in range(lo, len(self._pos)):
                self._pos[k] += shift
        if not ins.isascii():
            new_pos = [pos + i for i, ch in enumerate(ins) if ord(ch) > 0x7F]
            new_extra = [len(ins[i - pos].encode("utf-8")) - 1 for i in new_pos]
            self._pos[lo:lo] = new_pos
            self._extra[lo:lo] = new_extra


def to_utf8_patches(patches: Sequence[Patch], start: str = "") -> list[Patch]:
    """Re-express code-point patches (applied in order from ``start``) in UTF-8 bytes."""
    m = Utf8Offsets(start)
    out: list[Patch] = []
    for pos, n_del, ins in patches:
        bpos, bdel = m.convert(pos, n_del, ins)
        out.append((bpos, bdel, ins))
        m.apply(pos, n_del, ins)
    return out
