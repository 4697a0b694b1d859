"""A chunked rope: the current text of a branch, editable in O(log n).

Why not a plain ``str``?  Replacing a 100 kB string on every keystroke copies the
whole document each time.  The rope keeps the text as a list of short chunks and a
Fenwick tree over their lengths, so finding a position is O(log chunks) and an edit
copies at most one chunk.  Editing is local in real documents, so the last chunk
touched is cached and most edits skip the tree search entirely.

Positions are Unicode code points (Python ``str`` indexes), as everywhere in cowrite.
"""

from __future__ import annotations

__all__ = ["Rope"]

_MAX = 512  # longest chunk; longer chunks are split in halves
_HALF = _MAX // 2


class Rope:
    """Mutable text with O(log n) insert/delete at code-point positions."""

    __slots__ = ("_chunks", "_tree", "_len", "_ci", "_cs", "_str")

    def __init__(self, text: str = "") -> None:
        # One chunk until the first edit splits it (insert splits any chunk it makes
        # too long, delete splits this one first): a loaded document's text is often
        # only read, and chunking 100 kB costs more than loading the rest of it.
        self._chunks: list[str] = [text]
        self._len = len(text)
        self._str: str | None = text
        self._rebuild()

    # -- reading -------------------------------------------------------------------

    def __len__(self) -> int:
        return self._len

    def __str__(self) -> str:
        s = self._str
        if s is None:
            s = self._str = "".join(self._chunks)
        return s

    def __repr__(self) -> str:
        return f"Rope({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rope):
            return str(self) == str(other)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def slice(self, start: int, end: int) -> str:
        """The text in ``[start, end)``, without joining the whole rope."""
        if start >= end:
            return ""
        ci, cs = self._locate(start)
        out: list[str] = []
        chunks = self._chunks
        while start < end and ci < len(chunks):
            c = chunks[ci]
            piece = c[start - cs : end - cs]
            out.append(piece)
            start += len(piece)
            cs += len(c)
            ci += 1
        return "".join(out)

    # -- editing -------------------------------------------------------------------

    def insert(self, pos: int, text: str) -> None:
        """Insert ``text`` before code point ``pos`` (0 <= pos <= len)."""
        if not text:
            return
        ci, cs = self._locate(pos)
        c = self._chunks[ci]
        off = pos - cs
        nc = c[:off] + text + c[off:]
        n = len(text)
        self._len += n
        self._str = None
        if len(nc) <= _MAX:
            self._chunks[ci] = nc
            self._add(ci, n)
            self._ci = ci
            self._cs = cs
        else:
            self._chunks[ci : ci + 1] = [nc[i : i + _HALF] for i in range(0, len(nc), _HALF)]
            self._rebuild()

    def delete(self, pos: int, length: int) -> str:
        """Delete ``length`` code points starting at ``pos``; returns the deleted text."""
        if length <= 0:
            return ""
        removed: list[str] = []
        emptied = False
        chunks = self._chunks
        if len(chunks) == 1 and self._len > _MAX:  # the text as it was given: split it first
            chunks = self._chunks = [chunks[0][i : i + _HALF] for i in range(0, self._len, _HALF)]
            self._rebuild()
        self._str = None
        while length > 0:
            ci, cs = self._locate(pos)
            c = chunks[ci]
            off = pos - cs
            if off == len(c):  # pos sits at this chunk's end: the text is in the next one
                ci += 1
                cs += len(c)
                c = chunks[ci]
                off = 0
            take = min(length, len(c) - off)
            removed.append(c[off : off + take])
            nc = c[:off] + c[off + take :]
            chunks[ci] = nc
            self._add(ci, -take)
            self._ci, self._cs = ci, cs
            self._len -= take
            length -= take
            if not nc:
                emptied = True
        if emptied and len(chunks) > 1:
            self._chunks = [c for c in chunks if c] or [""]
            self._rebuild()
        return "".join(removed)

    # -- bulk editing (engine/bulk.py) ------------------------------------------------

    def chunk_list(self) -> list[str]:
        """A copy of the text as chunks of at most ``_MAX`` code points, for a bulk
        editor that works on them in place and hands them back via :meth:`from_chunks`."""
        if len(self._chunks) == 1 and self._len > _MAX:
            t = self._chunks[0]
            return [t[i : i + _HALF] for i in range(0, self._len, _HALF)]
        return self._chunks[:]

    @classmethod
    def from_chunks(cls, chunks: list[str]) -> Rope:
        """A rope owning ``chunks`` (each at most ``_MAX`` code points; empty ones dropped)."""
        rope = cls.__new__(cls)
        rope._chunks = [c for c in chunks if c] or [""]
        rope._len = sum(map(len, rope._chunks))
        rope._str = None
        rope._rebuild()
        return rope

    # -- internals -----------------------------------------------------------------

    def _rebuild(self) -> None:
        """Recompute the Fenwick tree; O(chunks), done only when chunks split/vanish."""
        chunks = self._chunks
        m = len(chunks)
        tree = [0] * (m + 1)
        for i, c in enumerate(chunks, 1):
            tree[i] += len(c)
            j = i + (i & -i)
            if j <= m:
                tree[j] += tree[i]
        self._tree = tree
        self._ci = -1
        self._cs = 0

    def _add(self, ci: int, delta: int) -> None:
        tree = self._tree
        m = len(tree) - 1
        i = ci + 1
        while i <= m:
            tree[i] += delta
            i += i & -i

    def _locate(self, pos: int) -> tuple[int, int]:
        """(chunk index, chunk start) of a chunk with start <= pos <= start + len."""
        ci = self._ci
        if ci >= 0:
            cs = self._cs
            if cs <= pos <= cs + len(self._chunks[ci]):
                return ci, cs
        if pos < 0 or pos > self._len:
            raise IndexError(f"position {pos} outside text of length {self._len}")
        tree = self._tree
        m = len(tree) - 1
        k = 0
        rem = pos
        step = 1 << (m.bit_length() - 1) if m else 0
        while step:
            nk = k + step
            if nk <= m and tree[nk] <= rem:
                k = nk
                rem -= tree[nk]
            step >>= 1
        # chunks [0, k) end at or before pos
        if k == m:  # pos == len: the last chunk, at its end
            k = m - 1
            rem += len(self._chunks[k])
        return k, pos - rem
