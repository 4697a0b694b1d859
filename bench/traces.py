"""Finding editing traces, and the small derived views every peer adapter needs.

Traces live in ``shared/traces`` (see its README): ``sequential/*.json.gz`` hold one
user's history, ``concurrent/*.json.gz`` hold several agents editing at once, each txn
naming its causal parents.  All positions are Unicode code points.

Everything here runs *outside* the timed regions, so clarity wins over speed, except
for :class:`Utf8Offsets`, which has to convert ~260k patches in a second or two.
"""

from __future__ import annotations

import bisect
import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # a checkout without cowrite installed

from cowrite.traces import Patch, Trace, Txn, trace_label  # noqa: E402 - the one trace loader
from cowrite.traces import load_trace as load_trace_file  # noqa: E402

__all__ = [
    "Patch", "REPO_ROOT", "TRACES_DIR", "Trace", "Txn", "Utf8Offsets", "all_trace_paths",
    "apply_patches_to_str", "find_trace", "load_trace", "to_utf8_patches", "trace_label",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where the traces are, overridable so CI or a developer can point elsewhere.
TRACES_DIR = Path(
    os.environ.get("COWRITE_TRACES", REPO_ROOT.parent / "shared" / "traces")
)


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


def load_trace(name: str | os.PathLike[str]) -> Trace:
    """Load a sequential or concurrent trace by name or path (with cowrite's one loader)."""
    return load_trace_file(find_trace(name))


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
