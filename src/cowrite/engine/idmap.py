"""Which op inserted each character of a text: runs of LVs parallel to the text.

Eg-walker keeps no per-character metadata in its steady state, which is what
makes it small and fast.  Three features need character identity anyway: stable
positions (a cursor names the character it sits on), undo (delete exactly the
characters my insert made) and authorship.  An :class:`IdMap` gives that for one
version of the text.  A document builds it only when one of those features is
first used (one checkout of the history) and then keeps it up to date with every
edit and merge, at O(runs in a chunk) per edit.

Characters typed in one go have consecutive LVs, so a run ``(lv, n)`` stands for
``n`` characters with LVs ``lv .. lv+n-1``.  Runs live in chunks of at most
``_MAX`` runs; each chunk knows its character count, so finding a position
skips whole chunks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

__all__ = ["IdMap"]

_MAX = 64  # runs per chunk; a full chunk is split in halves
_NONE = 1 << 62  # lower bound of an empty chunk


class IdMap:
    __slots__ = ("chunks", "sizes", "bounds", "length", "_hint_ci", "_hint_base")

    def __init__(self) -> None:
        self.chunks: list[list[list[int]]] = [[]]  # chunks of [lv, n] runs
        self.sizes: list[int] = [0]  # characters per chunk
        # [min LV, max LV + 1] of each chunk, possibly loose (deletes do not shrink
        # them): searches by LV skip every chunk whose bounds miss, and text
        # typed together sits in few chunks.
        self.bounds: list[list[int]] = [[_NONE, -1]]
        self.length = 0
        # The chunk found by the last seek and where it starts: edits cluster
        # (people type in one place), so the next seek usually starts right there.
        # Edits only change chunks at or after it, so its start stays valid.
        self._hint_ci = 0
        self._hint_base = 0

    def __len__(self) -> int:
        return self.length

    def runs(self) -> Iterator[tuple[int, int]]:
        """``(lv, n)`` runs in text order."""
        for chunk in self.chunks:
            for lv, n in chunk:
                yield lv, n

    def _seek(self, pos: int) -> tuple[int, int]:
        """(chunk index, offset in chunk) of position ``pos`` (the last chunk at the end)."""
        sizes = self.sizes
        last = len(sizes) - 1
        ci = self._hint_ci
        base = self._hint_base
        if ci > last:
            ci = base = 0
        while ci > 0 and pos < base:
            ci -= 1
            base -= sizes[ci]
        while ci < last and pos >= base + sizes[ci]:
            base += sizes[ci]
            ci += 1
        self._hint_ci = ci
        self._hint_base = base
        return ci, pos - base

    def lv_at(self, pos: int) -> int:
        """The LV of the character at ``pos`` (0 <= pos < len)."""
        if not 0 <= pos < self.length:
            raise IndexError(pos)
        ci, off = self._seek(pos)
        for lv, n in self.chunks[ci]:
            if off < n:
                return lv + off
            off -= n
        raise AssertionError("IdMap sizes out of step")  # pragma: no cover

    def index_of(self, lv: int) -> int | None:
        """Where the character inserted by ``lv`` is, or None if it is not in the text."""
        pos = 0
        bounds = self.bounds
        sizes = self.sizes
        for ci, chunk in enumerate(self.chunks):
            b = bounds[ci]
            if not b[0] <= lv < b[1]:
                pos += sizes[ci]
                continue
            for rlv, n in chunk:
                if rlv <= lv < rlv + n:
                    return pos + lv - rlv
                pos += n
        return None

    def find_ranges(self, lv_ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Text ranges ``(pos, n)`` of the characters whose LVs fall in any of the
        sorted, disjoint ``lv_ranges``; one pass over the runs."""
        out: list[tuple[int, int]] = []
        if not lv_ranges:
            return out
        starts = [a for a, _ in lv_ranges]
        lo_all = lv_ranges[0][0]
        hi_all = lv_ranges[-1][1]
        pos = 0
        bounds = self.bounds
        sizes = self.sizes
        for ci, chunk in enumerate(self.chunks):
            bd = bounds[ci]
            if bd[0] >= hi_all or bd[1] <= lo_all:
                pos += sizes[ci]
                continue
            j = bisect_right(starts, bd[0]) - 1
            if j >= 0 and lv_ranges[j][1] <= bd[0] and (j + 1 >= len(starts) or starts[j + 1] >= bd[1]):
                pos += sizes[ci]  # the chunk's LVs fall between two ranges
                continue
            for lv, n in chunk:
                if lv < hi_all and lv + n > lo_all:
                    i = max(bisect_right(starts, lv) - 1, 0)
                    while i < len(lv_ranges) and lv_ranges[i][0] < lv + n:
                        a = max(lv, lv_ranges[i][0])
                        b = min(lv + n, lv_ranges[i][1])
                        if a < b:
                            p = pos + a - lv
                            if out and out[-1][0] + out[-1][1] == p:
                                out[-1] = (out[-1][0], out[-1][1] + b - a)
                            else:
                                out.append((p, b - a))
                        i += 1
                pos += n
        return out

    def insert(self, pos: int, lv: int, n: int) -> None:
        """Characters ``lv .. lv+n-1`` were inserted at ``pos``."""
        if n <= 0:
            return
        ci, off = self._seek(pos)
        chunk = self.chunks[ci]
        i = 0
        while i < len(chunk) and off > 0:
            rn = chunk[i][1]
            if off < rn:  # split the run we land in
                rlv = chunk[i][0]
                chunk[i][1] = off
                chunk.insert(i + 1, [rlv + off, rn - off])
                i += 1
                off = 0
                break
            off -= rn
            i += 1
        if i > 0 and chunk[i - 1][0] + chunk[i - 1][1] == lv:
            chunk[i - 1][1] += n  # typing on: extend the run before
        else:
            chunk.insert(i, [lv, n])
        self.sizes[ci] += n
        self.length += n
        bd = self.bounds[ci]
        if lv < bd[0]:
            bd[0] = lv
        if lv + n > bd[1]:
            bd[1] = lv + n
        if len(chunk) > _MAX:
            half = len(chunk) // 2
            tail = chunk[half:]
            del chunk[half:]
            t = sum(r[1] for r in tail)
            self.chunks.insert(ci + 1, tail)
            self.sizes[ci] -= t
            self.sizes.insert(ci + 1, t)
            self.bounds[ci] = _bounds(chunk)
            self.bounds.insert(ci + 1, _bounds(tail))

    def delete(self, pos: int, n: int) -> list[tuple[int, int]]:
        """Remove ``n`` characters at ``pos``; returns their ``(lv, n)`` runs in order."""
        removed: list[tuple[int, int]] = []
        if n <= 0:
            return removed
        if pos < 0 or pos + n > self.length:
            raise IndexError((pos, n))
        ci, off = self._seek(pos)
        left = n
        while left:
            chunk = self.chunks[ci]
            i = 0
            while i < len(chunk) and left:
                rlv, rn = chunk[i]
                if off >= rn:
                    off -= rn
                    i += 1
                    continue
                take = min(rn - off, left)
                removed.append((rlv + off, take))
                if off == 0 and take == rn:
                    del chunk[i]
                elif off == 0:
                    chunk[i] = [rlv + take, rn - take]
                    i += 1
                elif off + take == rn:
                    chunk[i][1] = off
                    i += 1
                else:
                    chunk[i][1] = off
                    chunk.insert(i + 1, [rlv + off + take, rn - off - take])
                    i += 2
                off = 0
                self.sizes[ci] -= take
                left -= take
            if not chunk and len(self.chunks) > 1:
                del self.chunks[ci]
                del self.sizes[ci]
                del self.bounds[ci]
            else:
                ci += 1
            off = 0
        self.length -= n
        return removed


def _bounds(chunk: list[list[int]]) -> list[int]:
    if not chunk:
        return [_NONE, -1]
    return [min(r[0] for r in chunk), max(r[0] + r[1] for r in chunk)]
