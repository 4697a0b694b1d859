"""Text changes: retain / insert / delete over a base string, and their algebra.

Why this exists: a client keeps the user's unconfirmed edits as plain text changes
(see :mod:`.journal`), so that when its replica has to be replaced by the server's
copy they can be typed again at the same places.  That needs the classic
operational-transformation toolkit on strings -- apply, compose, invert,
transform, position mapping -- and a character diff to line two texts up.
``web/src/protocol/textChange.js`` is the same code in JS, with the same results.

A :class:`TextChange` is a sequence of components walking a base text from its
start: ``Retain(n)`` keeps ``n`` characters, ``Insert(s)`` adds ``s``,
``Delete(text, n)`` removes ``n`` characters.  Whatever lies past the last
component is kept (an *implicit tail*), so a change fits any text at least
:attr:`TextChange.base_length` long; no change stores the length of the whole
document, which the journal does not know.  Positions and lengths are code
points (Python ``str`` indices).

A delete normally carries the text it removes (``delete("abc")``), which makes
the change invertible without the document and lets :meth:`TextChange.apply`
check that the change fits.  The engine's edit lists only say how much they
delete (``delete(3)``: ``Delete(None, 3)``); such a change works everywhere
except :meth:`TextChange.invert`, which raises until :meth:`TextChange.with_text`
has filled the text in from the base.

Every change is kept in one canonical form, so equal changes compare equal and
both languages give the same results: no empty components, no two neighbours of
the same kind, between two retains at most one delete followed by at most one
insert, and no trailing retain.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ChangeMismatch

__all__ = [
    "DIFF_MAX_D",
    "IDENTITY",
    "ChangeMismatch",
    "Component",
    "Delete",
    "Edit",
    "Insert",
    "Retain",
    "TextChange",
    "compose",
    "compose_all",
    "delete",
    "diff",
    "from_edit",
    "from_edits",
    "insert",
    "retain",
    "transform",
]

Edit = tuple[int, int, str | int]
"""An engine edit: ``(0, pos, text)`` insert or ``(1, pos, length)`` delete (same as
``cowrite.protocol.client.Edit``; each in the coordinates the previous one left)."""

DIFF_MAX_D = 2000
"""Default cap on the edit distance :func:`diff` searches (inserted plus deleted
characters after the common prefix and suffix): Myers costs O((N+M)·D) time and
O(D²) memory, so past this it gives one replaced span instead."""


@dataclass(frozen=True, slots=True)
class Retain:
    """Keep ``length`` characters."""

    length: int


@dataclass(frozen=True, slots=True)
class Insert:
    """Add ``text``."""

    text: str

    @property
    def length(self) -> int:
        return len(self.text)


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove ``length`` characters, which were ``text`` (``None``: not known)."""

    text: str | None
    length: int

    def __post_init__(self) -> None:
        if self.text is not None and len(self.text) != self.length:
            raise ValueError(f"Delete({self.text!r}, {self.length}): the text is not {self.length} long")


Component = Retain | Insert | Delete


def retain(n: int) -> Retain:
    return Retain(n)


def insert(text: str) -> Insert:
    return Insert(text)


def delete(what: str | int) -> Delete:
    """``delete("abc")``: remove those characters; ``delete(3)``: remove 3 unknown ones."""
    if isinstance(what, str):
        return Delete(what, len(what))
    return Delete(None, what)


def _join_delete(a: Delete, text: str | None, n: int) -> Delete:
    # Known only while every piece is known: one unknown piece makes the whole run unknown.
    if a.text is None or text is None:
        return Delete(None, a.length + n)
    return Delete(a.text + text, a.length + n)


class _Builder:
    """Appends components while keeping the canonical form (merges neighbours,
    moves a delete in front of the insert it follows, drops empty pieces)."""

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: list[Component] = []

    def retain(self, n: int) -> None:
        if n <= 0:
            return
        ops = self.ops
        if ops and isinstance(ops[-1], Retain):
            ops[-1] = Retain(ops[-1].length + n)
        else:
            ops.append(Retain(n))

    def insert(self, text: str) -> None:
        if not text:
            return
        ops = self.ops
        last = ops[-1] if ops else None
        if isinstance(last, Insert):
            ops[-1] = Insert(last.text + text)
        else:
            ops.append(Insert(text))

    def delete(self, text: str | None, n: int) -> None:
        if n <= 0:
            return
        ops = self.ops
        last = ops[-1] if ops else None
        if isinstance(last, Delete):
            ops[-1] = _join_delete(last, text, n)
        elif isinstance(last, Insert):
            prev = ops[-2] if len(ops) >= 2 else None
            if isinstance(prev, Delete):
                ops[-2] = _join_delete(prev, text, n)
            else:
                ops.insert(len(ops) - 1, Delete(text, n))
        else:
            ops.append(Delete(text, n))

    def add(self, op: Component) -> None:
        if isinstance(op, Retain):
            self.retain(op.length)
        elif isinstance(op, Insert):
            self.insert(op.text)
        else:
            self.delete(op.text, op.length)

    def build(self) -> TextChange:
        ops = self.ops
        if ops and isinstance(ops[-1], Retain):
            ops.pop()
        return TextChange._of(tuple(ops))


_RETAIN, _INSERT, _DELETE, _END = 0, 1, 2, 3


class _Cursor:
    """Walks a change's components, handing out pieces of them.

    Past the end it reports ``_END``, which the algorithms read as an endless
    retain (the implicit tail)."""

    __slots__ = ("_ops", "_i", "_off", "kind", "left")

    def __init__(self, change: TextChange) -> None:
        self._ops = change.ops
        self._i = -1
        self._off = 0
        self.kind = _END
        self.left = 0
        self._next()

    def _next(self) -> None:
        self._i += 1
        self._off = 0
        if self._i >= len(self._ops):
            self.kind, self.left = _END, 0
            return
        op = self._ops[self._i]
        self.kind = _RETAIN if isinstance(op, Retain) else _INSERT if isinstance(op, Insert) else _DELETE
        self.left = op.length

    def take(self, n: int) -> str | None:
        """Consume ``n`` (at most ``left``) characters of the current component; the
        text of that piece for an insert or a known delete, else ``None``."""
        op = self._ops[self._i]
        off = self._off
        text: str | None = None
        if isinstance(op, Insert):
            text = op.text[off : off + n]
        elif isinstance(op, Delete) and op.text is not None:
            text = op.text[off : off + n]
        self._off = off + n
        self.left -= n
        if self.left == 0:
            self._next()
        return text


class TextChange:
    """A change of a text, in canonical form (see the module docstring).

    Immutable and hashable.  Build one with :func:`from_edit`, :func:`from_edits`,
    :func:`diff`, or ``TextChange([retain(2), insert("x")])`` from components in
    any (non-canonical) arrangement."""

    __slots__ = ("ops",)
    ops: tuple[Component, ...]

    def __init__(self, ops: Iterable[Component] = ()) -> None:
        b = _Builder()
        for op in ops:
            if not isinstance(op, (Retain, Insert, Delete)):
                raise TypeError(f"not a component: {op!r}")
            if op.length < 0:
                raise ValueError(f"negative length in {op!r}")
            b.add(op)
        self.ops = b.build().ops

    @classmethod
    def _of(cls, ops: tuple[Component, ...]) -> TextChange:
        # Trusted constructor: ``ops`` are already canonical.
        c = cls.__new__(cls)
        c.ops = ops
        return c

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextChange) and self.ops == other.ops

    def __hash__(self) -> int:
        return hash(self.ops)

    def __repr__(self) -> str:
        parts = []
        for op in self.ops:
            if isinstance(op, Retain):
                parts.append(str(op.length))
            elif isinstance(op, Insert):
                parts.append(f"+{op.text!r}")
            else:
                parts.append(f"-{op.text!r}" if op.text is not None else f"-{op.length}")
        return f"TextChange([{', '.join(parts)}])"

    @property
    def is_identity(self) -> bool:
        """Whether the change leaves every text as it is."""
        return not self.ops

    @property
    def base_length(self) -> int:
        """How long a text must be at least for the change to fit (retained plus deleted)."""
        return sum(op.length for op in self.ops if not isinstance(op, Insert))

    @property
    def target_length(self) -> int:
        """What :attr:`base_length` characters become (retained plus inserted)."""
        return sum(op.length for op in self.ops if not isinstance(op, Delete))

    def apply(self, text: str) -> str:
        """The text after the change; :class:`ChangeMismatch` if the change does not
        fit (``text`` too short, or other characters where it deletes known text)."""
        parts: list[str] = []
        pos = 0
        size = len(text)
        for op in self.ops:
            if isinstance(op, Insert):
                parts.append(op.text)
                continue
            end = pos + op.length
            if end > size:
                raise ChangeMismatch(f"the change reaches position {self.base_length}, the text is {size} long")
            if isinstance(op, Retain):
                parts.append(text[pos:end])
            elif op.text is not None and text[pos:end] != op.text:
                raise ChangeMismatch(f"the change deletes {op.text!r} at {pos}, the text has {text[pos:end]!r}")
            pos = end
        parts.append(text[pos:])
        return "".join(parts)

    def invert(self) -> TextChange:
        """The change undoing this one (from its result back to its base).

        Needs the deleted text: raises :class:`ChangeMismatch` for a delete of
        unknown text (fill it in first with :meth:`with_text`)."""
        b = _Builder()
        for op in self.ops:
            if isinstance(op, Retain):
                b.retain(op.length)
            elif isinstance(op, Insert):
                b.delete(op.text, op.length)
            else:
                if op.text is None:
                    raise ChangeMismatch("cannot invert a delete of unknown text (use with_text)")
                b.insert(op.text)
        return b.build()

    def with_text(self, base: str) -> TextChange:
        """This change with the text of every delete taken from ``base`` (its base
        text); :class:`ChangeMismatch` if it does not fit ``base``."""
        b = _Builder()
        pos = 0
        for op in self.ops:
            if isinstance(op, Insert):
                b.insert(op.text)
                continue
            end = pos + op.length
            if end > len(base):
                raise ChangeMismatch(f"the change reaches position {self.base_length}, the text is {len(base)} long")
            if isinstance(op, Retain):
                b.retain(op.length)
            else:
                piece = base[pos:end]
                if op.text is not None and op.text != piece:
                    raise ChangeMismatch(f"the change deletes {op.text!r} at {pos}, the text has {piece!r}")
                b.delete(piece, op.length)
            pos = end
        return b.build()

    def compose(self, other: TextChange) -> TextChange:
        """This change, then ``other``: see :func:`compose`."""
        return compose(self, other)

    def map_pos(self, pos: int, assoc: int = -1) -> int:
        """Where position ``pos`` of the base text is after the change (for cursors).

        ``assoc < 0`` keeps a position where text is inserted before that text,
        ``assoc > 0`` after it.  A position inside a replaced or deleted span goes
        to the start (``assoc < 0``) or end of what replaced it; one at the very
        start of a replaced span stays before the new text and one at its end
        after it, whatever ``assoc`` (the text next to them outside is kept)."""
        if pos < 0:
            raise ValueError(f"negative position {pos}")
        old = new = 0
        ops = self.ops
        i = 0
        while i < len(ops):
            op = ops[i]
            i += 1
            if isinstance(op, Retain):
                if pos < old + op.length:
                    return new + pos - old
                old += op.length
                new += op.length
                continue
            # a gap: a delete of `gone` characters, then an insert of `added` (either may be absent)
            gone = added = 0
            if isinstance(op, Delete):
                gone = op.length
                if i < len(ops) and isinstance(ops[i], Insert):
                    added = ops[i].length
                    i += 1
            else:
                added = op.length
            if pos <= old + gone:
                if gone and pos == old:
                    return new
                if gone and pos == old + gone:
                    return new + added
                return new + (added if assoc > 0 else 0)
            old += gone
            new += added
        return new + pos - old

    def to_edits(self) -> list[Edit]:
        """The change as engine edits, each in the coordinates the previous one left
        (a delete before the insert at the same place)."""
        edits: list[Edit] = []
        pos = 0
        for op in self.ops:
            if isinstance(op, Retain):
                pos += op.length
            elif isinstance(op, Delete):
                edits.append((1, pos, op.length))
            else:
                edits.append((0, pos, op.text))
                pos += op.length
        return edits


IDENTITY = TextChange._of(())
"""The change that keeps every text as it is."""


def from_edit(pos: int, deleted: str | int, inserted: str) -> TextChange:
    """The change replacing ``deleted`` (its text, or only its length) at ``pos`` by ``inserted``."""
    n = len(deleted) if isinstance(deleted, str) else deleted
    if pos < 0 or n < 0:
        raise ValueError(f"bad edit at {pos} deleting {n}")
    b = _Builder()
    b.retain(pos)
    b.delete(deleted if isinstance(deleted, str) else None, n)
    b.insert(inserted)
    return b.build()


def from_edits(edits: Iterable[Edit], base: str | None = None) -> TextChange:
    """One change doing the engine's ``edits`` in turn; with ``base`` (the text they
    apply to) the deletes carry their text, else only their length.

    The edits are composed as a balanced tree, so a long list (a catch-up) costs
    O(k log k), not O(k²)."""
    changes: list[TextChange] = []
    for edit in edits:
        kind, pos, what = edit
        if kind == 0 and isinstance(what, str):
            changes.append(from_edit(pos, "", what))
        elif kind == 1 and isinstance(what, int) and not isinstance(what, bool):
            changes.append(from_edit(pos, what, ""))
        else:
            raise ValueError(f"not an edit: {edit!r}")
    change = compose_all(changes)
    return change if base is None else change.with_text(base)


def compose(a: TextChange, b: TextChange) -> TextChange:
    """The change doing ``a`` and then ``b`` (``b`` is over ``a``'s result).

    :class:`ChangeMismatch` if ``b`` deletes known text where ``a`` inserted other
    text.  A delete of ``b`` over text ``a`` kept carries ``b``'s text (known or not)."""
    out = _Builder()
    ca, cb = _Cursor(a), _Cursor(b)
    while True:
        kb = cb.kind
        if kb == _INSERT:
            out.insert(cb.take(cb.left) or "")
            continue
        ka = ca.kind
        if ka == _DELETE:
            n = ca.left
            out.delete(ca.take(n), n)
            continue
        if ka == _END:
            if kb == _END:
                break
            n = cb.left
            if kb == _RETAIN:
                cb.take(n)
                out.retain(n)
            else:
                out.delete(cb.take(n), n)
            continue
        if kb == _END:
            n = ca.left
            if ka == _RETAIN:
                ca.take(n)
                out.retain(n)
            else:
                out.insert(ca.take(n) or "")
            continue
        n = min(ca.left, cb.left)
        if ka == _RETAIN:
            ca.take(n)
            if kb == _RETAIN:
                cb.take(n)
                out.retain(n)
            else:
                out.delete(cb.take(n), n)
        else:  # a inserted what b keeps or deletes
            text = ca.take(n) or ""
            if kb == _RETAIN:
                cb.take(n)
                out.insert(text)
            else:
                gone = cb.take(n)
                if gone is not None and gone != text:
                    raise ChangeMismatch(f"the second change deletes {gone!r} where the first inserted {text!r}")
    return out.build()


def compose_all(changes: Iterable[TextChange]) -> TextChange:
    """``changes`` one after the other, composed pairwise as a balanced tree."""
    items = list(changes)
    if not items:
        return IDENTITY
    while len(items) > 1:
        items = [compose(items[i], items[i + 1]) if i + 1 < len(items) else items[i] for i in range(0, len(items), 2)]
    return items[0]


def transform(a: TextChange, b: TextChange) -> tuple[TextChange, TextChange]:
    """``(a2, b2)`` for two changes over the same text, such that ``a`` then ``b2``
    and ``b`` then ``a2`` give the same text.

    Tie-break: where both insert at the same place, ``a``'s text comes first.  An
    insert at the start of a span the other side deletes stays before it (a
    replacement's new text is after the span it deletes)."""
    a2, b2 = _Builder(), _Builder()
    ca, cb = _Cursor(a), _Cursor(b)
    while True:
        ka, kb = ca.kind, cb.kind
        if ka == _INSERT:
            n = ca.left
            a2.insert(ca.take(n) or "")
            b2.retain(n)
            continue
        if kb == _INSERT:
            n = cb.left
            b2.insert(cb.take(n) or "")
            a2.retain(n)
            continue
        if ka == _END and kb == _END:
            break
        if ka == _END:  # past a's end it keeps everything
            n = cb.left
            if kb == _RETAIN:
                cb.take(n)
                b2.retain(n)
            else:
                b2.delete(cb.take(n), n)
            continue
        if kb == _END:
            n = ca.left
            if ka == _RETAIN:
                ca.take(n)
                a2.retain(n)
            else:
                a2.delete(ca.take(n), n)
            continue
        n = min(ca.left, cb.left)
        ta, tb = ca.take(n), cb.take(n)
        if ka == _RETAIN and kb == _RETAIN:
            a2.retain(n)
            b2.retain(n)
        elif ka == _DELETE and kb == _RETAIN:
            a2.delete(ta, n)
        elif ka == _RETAIN:  # b deletes what a keeps
            b2.delete(tb, n)
        # both delete it: neither needs to any more
    return a2.build(), b2.build()


# -- diff --------------------------------------------------------------------------


def _match(a: str, x: int, b: str, y: int, limit: int) -> int:
    """How many characters ``a[x:]`` and ``b[y:]`` share at their start (at most
    ``limit``): galloping then bisecting with slice comparisons, so a long run
    costs O(log n) Python steps, not one per character."""
    if limit <= 0 or a[x] != b[y]:
        return 0
    k, step = 1, 1
    while k < limit:
        hi = min(k + step, limit)
        if a[x + k : x + hi] != b[y + k : y + hi]:
            while hi - k > 1:  # a[x:x+k] matches, a[x:x+hi] does not
                mid = (k + hi) // 2
                if a[x + k : x + mid] == b[y + k : y + mid]:
                    k = mid
                else:
                    hi = mid
            return k
        k = hi
        step *= 2
    return k


def _match_back(a: str, b: str, limit: int) -> int:
    """How many characters ``a`` and ``b`` share at their end (at most ``limit``)."""
    la, lb = len(a), len(b)
    if limit <= 0 or a[la - 1] != b[lb - 1]:
        return 0
    k, step = 1, 1
    while k < limit:
        hi = min(k + step, limit)
        if a[la - hi : la - k] != b[lb - hi : lb - k]:
            while hi - k > 1:
                mid = (k + hi) // 2
                if a[la - mid : la - k] == b[lb - mid : lb - k]:
                    k = mid
                else:
                    hi = mid
            return k
        k = hi
        step *= 2
    return k


def _myers(a: str, b: str, max_d: int) -> list[tuple[int, int, int]] | None:
    """Myers' greedy O((N+M)·D) shortest edit script from ``a`` to ``b``, as runs
    ``(kind, start, end)`` in order (kind ``_RETAIN``/``_DELETE``: a span of ``a``;
    ``_INSERT``: a span of ``b``); ``None`` if it needs more than ``max_d`` edits.

    The search moves down (an insert) when that reaches further, else right (a
    delete); the JS port makes the same choices, so both find the same script."""
    n, m = len(a), len(b)
    if abs(n - m) > max_d:
        return None
    off = max_d + 1
    # v[off + k]: furthest x on diagonal k.  The trace keeps a copy per d as an array
    # (up to max_d²/2 numbers, 8 bytes each, no int objects): trace[d][(k + d) // 2].
    v = [0] * (2 * max_d + 3)
    trace: list[array[int]] = []
    found = -1
    for d in range(max_d + 1):
        first, last = off - d, off + d
        for i in range(first, last + 1, 2):  # i = off + k
            if i == first or (i != last and v[i - 1] < v[i + 1]):
                x = v[i + 1]
            else:
                x = v[i - 1] + 1
            y = x - i + off
            if x < n and y < m and a[x] == b[y]:
                x += _match(a, x, b, y, min(n - x, m - y))
                y = x - i + off
            v[i] = x
            if x >= n and y >= m:
                found = d
                break
        trace.append(array("q", v[first : last + 1 : 2]))
        if found >= 0:
            break
    if found < 0:
        return None
    runs: list[tuple[int, int, int]] = []  # built backwards
    x, y = n, m
    for d in range(found, 0, -1):
        prev = trace[d - 1]
        k = x - y
        down = k == -d or (k != d and prev[(k - 1 + d - 1) // 2] < prev[(k + 1 + d - 1) // 2])
        pk = k + 1 if down else k - 1
        px = prev[(pk + d - 1) // 2]
        py = px - pk
        sx = px if down else px + 1
        if x > sx:
            runs.append((_RETAIN, sx, x))
        runs.append((_INSERT, py, py + 1) if down else (_DELETE, px, px + 1))
        x, y = px, py
    if x > 0:
        runs.append((_RETAIN, 0, x))
    runs.reverse()
    return runs


def diff(old: str, new: str, *, max_d: int = DIFF_MAX_D) -> TextChange:
    """A change turning ``old`` into ``new`` that keeps as many characters as it can.

    The common prefix and suffix are kept, then Myers' algorithm finds a shortest
    edit script for the middle (so the characters kept are a longest common
    subsequence): used to line the text a user saw up with the server's text,
    every character kept matters.  If the middle needs more than ``max_d``
    inserted plus deleted characters, it is one replaced span instead (bounded
    time: roughly max_d² steps)."""
    if old == new:
        return IDENTITY
    n, m = len(old), len(new)
    p = _match(old, 0, new, 0, min(n, m))
    s = _match_back(old, new, min(n, m) - p)
    a, b = old[p : n - s], new[p : m - s]
    out = _Builder()
    out.retain(p)
    runs = _myers(a, b, max_d) if a and b else None
    if runs is None:
        out.delete(a, len(a))
        out.insert(b)
        return out.build()
    # A gap between two kept runs deletes one span of ``a`` and inserts one span of
    # ``b``: gather each gap's ends and slice once (not one character at a time).
    ds = de = is_ = ie = 0  # the current gap: a[ds:de] deleted, b[is_:ie] inserted
    for kind, start, end in runs:
        if kind == _RETAIN:
            out.delete(a[ds:de], de - ds)
            out.insert(b[is_:ie])
            out.retain(end - start)
            ds = de = is_ = ie = 0
        elif kind == _DELETE:
            if de == ds:
                ds = start
            de = end
        else:
            if ie == is_:
                is_ = start
            ie = end
    out.delete(a[ds:de], de - ds)
    out.insert(b[is_:ie])
    return out.build()
