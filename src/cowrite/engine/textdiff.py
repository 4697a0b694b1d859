"""A minimal diff of two texts in code points: what restoring a version and the diff view need.

Restoring a version applies the edits that take today's text to the old one as new
ops, so the fewer characters they touch, the fewer of other people's characters
(their authorship, their concurrent edits nearby) are disturbed.  :func:`text_diff` is
Myers' O(ND) algorithm on the part between the common prefix and suffix, which is
minimal in characters deleted plus inserted.  Its cost grows with the square of the
distance, so past :data:`MAX_DISTANCE` edits it matches *lines* first (difflib's
matcher, lines as elements) and then diffs the characters of each changed block, and
gives up on minimality only for a block still too far apart (replaced whole).  The result is
always exact: applying it to ``old`` gives ``new``.

Positions are code points (Python ``str`` indices), as everywhere in the engine, so a
diff never splits a surrogate pair; the JS port (``web/src/engine/textdiff.js``)
works on code points for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import NamedTuple, TypeVar

from ..errors import InvalidOpError

__all__ = ["MAX_DISTANCE", "TextEdit", "apply_edits", "replace_span", "text_diff"]

MAX_DISTANCE = 1024
"""Most edits one Myers pass looks for before it coarsens to lines (~D² steps)."""

_CHARS_FIRST = 1 << 14
"""A changed middle up to this long (both sides) is diffed by characters at once."""
_STEPS = 4_000_000
"""Myers steps one diff may take in all (~2 s of Python); past them, blocks are replaced whole."""

T = TypeVar("T")


class TextEdit(NamedTuple):
    """Replace ``delete`` code points of the old text at ``pos`` with ``insert``."""

    pos: int
    delete: int
    insert: str


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by halving (slice compares run in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the common suffix, at most ``limit``."""
    lo, hi = 0, min(len(a), len(b), limit)
    na, nb = len(a), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[na - mid : na - lo] == b[nb - mid : nb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def replace_span(old: str, new: str) -> tuple[int, int, str]:
    """The one edit ``(pos, delete, insert)`` that turns ``old`` into ``new``, keeping
    their common start and end (so unchanged text keeps its ops, and its authors)."""
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, min(len(old), len(new)) - start)
    return start, len(old) - start - end, new[start : len(new) - end]


class _Budget:
    """Myers steps (diagonals visited) one :func:`text_diff` may still spend: a diff of two
    unrelated long texts must not cost minutes, whatever its blocks."""

    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps


def _myers(a: Sequence[T], b: Sequence[T], max_d: int, budget: _Budget) -> list[tuple[int, int, int]] | None:
    """The matching runs ``(i, j, n)`` (``a[i:i+n] == b[j:j+n]``) of a shortest edit
    script, in order; ``None`` if it needs more than ``max_d`` edits or more steps than
    ``budget`` has left (what it spent is taken from it either way)."""
    n, m = len(a), len(b)
    limit = min(n + m, max_d)
    off = limit + 1
    v = [0] * (2 * limit + 3)
    trace: list[list[int]] = []
    found = -1
    for d in range(limit + 1):
        budget.left -= d + 1
        if budget.left < 0:
            return None
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]
            else:
                x = v[off + k - 1] + 1
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
                while x + 32 <= n and y + 32 <= m and a[x : x + 32] == b[y : y + 32]:
                    x += 32  # long equal runs: compared 32 at a time, in C
                    y += 32
            v[off + k] = x
            if x >= n and y >= m:
                found = d
                break
        trace.append(v[off - d - 1 : off + d + 2])  # k in -d-1 .. d+1 at index k + d + 1
        if found >= 0:
            break
    if found < 0:
        return None
    runs: list[tuple[int, int, int]] = []
    x, y = n, m
    for d in range(found, 0, -1):
        prev = trace[d - 1]  # index of k there: k + d
        k = x - y
        if k == -d or (k != d and prev[k - 1 + d] < prev[k + 1 + d]):
            pk = k + 1  # came down: an insertion of b[py]
        else:
            pk = k - 1  # came right: a deletion of a[px]
        px = prev[pk + d]
        py = px - pk
        sx, sy = (px, py + 1) if pk == k + 1 else (px + 1, py)
        if x > sx:
            runs.append((sx, sy, x - sx))
        x, y = px, py
    if x > 0:
        runs.append((0, 0, x))
    runs.reverse()
    return runs


def _blocks(runs: list[tuple[int, int, int]], n: int, m: int) -> list[tuple[int, int, int, int]]:
    """The changed blocks ``(i1, i2, j1, j2)`` between matching runs."""
    out: list[tuple[int, int, int, int]] = []
    i = j = 0
    for ri, rj, rn in [*runs, (n, m, 0)]:
        if ri > i or rj > j:
            out.append((i, ri, j, rj))
        i, j = ri + rn, rj + rn
    return out


def _diff_chars(a: str, b: str, base: int, out: list[TextEdit], max_d: int, budget: _Budget) -> bool:
    """Append the edits of a character diff of ``a`` to ``b`` (at ``base``); False if too far."""
    runs = _myers(a, b, max_d, budget)
    if runs is None:
        return False
    for i1, i2, j1, j2 in _blocks(runs, len(a), len(b)):
        out.append(TextEdit(base + i1, i2 - i1, b[j1:j2]))
    return True


def _diff_middle(a: str, b: str, base: int, out: list[TextEdit], max_d: int, budget: _Budget) -> None:
    if not a or not b:
        out.append(TextEdit(base, len(a), b))
        return
    la, lb = a.splitlines(keepends=True), b.splitlines(keepends=True)
    one_line = len(la) == 1 and len(lb) == 1
    # Long texts of many lines go by lines first: a character pass would walk every
    # equal run once per edit round before it found out they are far apart.
    if (one_line or len(a) + len(b) <= _CHARS_FIRST) and _diff_chars(a, b, base, out, max_d, budget):
        return
    if one_line:
        out.append(TextEdit(base, len(a), b))  # one long line each, far apart: replace it whole
        return
    # Lines as elements: difflib's matcher is near linear on lines (it hashes them) and
    # needs no distance bound; each changed block is then diffed by characters.
    matcher = SequenceMatcher(None, la, lb)  # autojunk: very common lines anchor nothing
    line_runs = [(i, j, k) for i, j, k in matcher.get_matching_blocks() if k]
    starts_a = [0]
    for line in la:
        starts_a.append(starts_a[-1] + len(line))
    starts_b = [0]
    for line in lb:
        starts_b.append(starts_b[-1] + len(line))
    for i1, i2, j1, j2 in _blocks(line_runs, len(la), len(lb)):
        sa, sb = a[starts_a[i1] : starts_a[i2]], b[starts_b[j1] : starts_b[j2]]
        at = base + starts_a[i1]
        if not sa or not sb or not _diff_chars(sa, sb, at, out, max_d, budget):
            out.append(TextEdit(at, len(sa), sb))


def text_diff(old: str, new: str, *, max_distance: int = MAX_DISTANCE) -> list[TextEdit]:
    """The edits that turn ``old`` into ``new``: sorted, non-overlapping, positions in ``old``.

    Minimal (fewest code points deleted + inserted) when the texts are at most
    ``max_distance`` edits apart around their common prefix and suffix; exact always.
    """
    if not isinstance(old, str) or not isinstance(new, str):
        raise InvalidOpError("diff() takes two str")
    if old == new:
        return []
    p = _common_prefix(old, new)
    s = _common_suffix(old, new, min(len(old), len(new)) - p)
    out: list[TextEdit] = []
    _diff_middle(old[p : len(old) - s], new[p : len(new) - s], p, out, max(1, max_distance), _Budget(_STEPS))
    return out


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """``text`` with ``edits`` (as :func:`text_diff` returns them) applied."""
    parts: list[str] = []
    at = 0
    for e in edits:
        parts.append(text[at : e.pos])
        parts.append(e.insert)
        at = e.pos + e.delete
    parts.append(text[at:])
    return "".join(parts)
