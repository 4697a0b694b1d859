"""Suggestions: edits on a branch of the event graph, shown to others, merged on accept.

A suggestion is a set of ops made by one dedicated agent (``sugg:<id>``) whose parents
are versions of the main document -- exactly what an offline peer's edits are -- kept
*outside* the main document until someone accepts it.  Because the ops name their
parents, nothing has to be rebased when the main document moves on: showing the
suggestion merges the main document and the ops in a scratch replica (the event
graph merge), and accepting adds the same ops to the main document as ordinary ops.
So people typing meanwhile (or offline) keep their text, and blame shows the
suggester as the author of what was accepted (the agent is claimed for them).

* :func:`make_suggestion` turns "the text at ``version`` should read ``text``" into
  such ops (a minimal diff, made at ``version`` so it survives later edits);
* :func:`check_suggestion` is what a server asks of ops it is given (a patch from a
  client): all by the suggestion's agent, its seqs 0.. without gaps, none in the
  main document yet, and they merge into it (their parents are the document's or
  their own);
* :func:`suggestion_view` is the inline view: the main text in runs that are kept,
  inserted or deleted by the suggestion (:class:`~cowrite.engine.restore.DiffSpan`),
  read from the merge itself -- the characters the suggestion's ops insert and the ones
  they delete -- so a replaced word shows as that word struck and the new one
  inserted, exactly as the suggester typed it, not as some diff of the two texts.

Nothing here changes the main document: accepting is adding the checked ops to it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Literal

from ..errors import CowriteError, InvalidOpError
from .document import Document
from .merge import XfOp
from .oplog import INS
from .ops import Op, RawVersion
from .restore import DiffSpan
from .textdiff import text_diff

__all__ = ["SUGGESTION_AGENT_PREFIX", "check_suggestion", "make_suggestion", "suggestion_agent", "suggestion_view"]

SUGGESTION_AGENT_PREFIX = "sugg:"
"""Agents of suggestions are ``sugg:<id>``: no replica of a person ever uses one."""


def suggestion_agent(suggestion_id: str) -> str:
    """The agent whose ops are the suggestion ``suggestion_id``'s."""
    if not suggestion_id or ":" in suggestion_id:
        raise InvalidOpError(f"bad suggestion id {suggestion_id!r}")
    return SUGGESTION_AGENT_PREFIX + suggestion_id


def _at(doc: Document, version: Iterable[tuple[str, int]], agent: str) -> Document:
    """A replica of ``agent`` holding exactly the history of ``version`` of ``doc``
    (``UnknownVersionError`` if ``doc`` lacks any op it names)."""
    oplog = doc.oplog
    lvs = doc._lvs(version)
    _, history = oplog.cg.diff((), lvs)
    base = Document(agent, clock=doc.clock)
    base.add_ops(oplog.ops_between(history))
    return base


def make_suggestion(doc: Document, version: RawVersion | Iterable[tuple[str, int]], text: str, agent: str) -> list[Op]:
    """The ops of ``agent`` that make the text at ``version`` of ``doc`` read ``text``.

    They are made at ``version`` (their parents are its ops), so they merge with
    whatever ``doc`` gained since as concurrent edits.  ``[]`` if the text there is
    ``text`` already.  ``agent`` must have no ops in ``doc`` (InvalidOpError).
    """
    if not isinstance(text, str):
        raise InvalidOpError("a suggestion's text must be a string")
    if doc.oplog.cg.next_seq(agent) != 0:
        raise InvalidOpError(f"agent {agent!r} has ops in the document already")
    version = tuple(version)
    base = _at(doc, version, agent)
    before = base.version
    # From the end, so that each edit's position in the old text is still right.
    for e in reversed(text_diff(base.text, text)):
        if e.delete:
            base.delete(e.pos, e.delete)
        if e.insert:
            base.insert(e.pos, e.insert)
    return base.ops_since(before)


def check_suggestion(doc: Document, ops: Sequence[Op], agent: str) -> Document:
    """Check ``ops`` as the whole of suggestion ``agent`` on ``doc``; returns the
    scratch replica (a copy of ``doc`` with them merged).

    Raises :class:`InvalidOpError` (and changes nothing) unless every op is by
    ``agent``, their seqs are ``0..n`` without gaps or overlaps, ``doc`` has none of
    them, and they merge into ``doc`` (parents known to it or among ``ops``; each op
    fitting the text at its parents).
    """
    return _merged(doc, ops, agent)[0]


def _merged(doc: Document, ops: Sequence[Op], agent: str) -> tuple[Document, list[XfOp]]:
    """:func:`check_suggestion`'s scratch replica and the edits the merge made to ``doc.text`` in it."""
    if doc.oplog.cg.next_seq(agent) != 0:
        raise InvalidOpError(f"agent {agent!r} has ops in the document already: the suggestion was accepted")
    spans: list[tuple[int, int]] = []
    for op in ops:
        if not isinstance(op, Op):
            raise InvalidOpError(f"expected an Op, not {type(op).__name__}")
        if op.agent != agent:
            raise InvalidOpError(f"a suggestion's ops are all by {agent!r}, not {op.agent!r}")
        spans.append((op.seq, op.seq + op.span))
    spans.sort()
    end = 0
    for start, stop in spans:
        if start != end:
            raise InvalidOpError(f"a suggestion's seqs run 0.. without gaps or overlaps (seq {start}, expected {end})")
        end = stop
    scratch = doc.copy()
    try:
        edits = scratch.add_ops(ops)
    except InvalidOpError:
        raise
    except CowriteError as exc:  # unknown parents (another branch's ops), conflicts
        raise InvalidOpError(f"the suggestion does not apply to this document: {exc}") from None
    return scratch, edits


def suggestion_view(doc: Document, ops: Sequence[Op], agent: str) -> list[DiffSpan]:
    """The main text of ``doc`` with suggestion ``agent``'s ``ops`` shown inline: runs
    ``same`` (kept), ``insert`` (the suggestion adds it) and ``delete`` (it removes it).

    The ``same`` and ``delete`` runs, in order, spell ``doc.text``; ``same`` and
    ``insert`` spell the text once the suggestion is accepted.  The runs are what the
    ops do when merged (an insertion between two struck runs stays between them; text
    the suggestion inserts and deletes again is not shown).  Raises as
    :func:`check_suggestion` does.
    """
    _, edits = _merged(doc, ops, agent)
    return _runs(doc.text, edits, agent)


_SAME, _INSERT, _STRUCK, _GONE = 0, 1, 2, 3
"""What a run of the layout is: kept text, text the suggestion inserts, text it strikes,
or text it inserted and deleted again (left in place, never shown)."""

_rank = random.Random().random
"""A treap node's rank: random, so the tree's depth is O(log runs) whatever the edits."""

_SHOWN: dict[int, Literal["same", "insert", "delete"]] = {_SAME: "same", _INSERT: "insert", _STRUCK: "delete"}


class _Run:
    """A run of the layout and the node of a treap holding it: in order, the nodes spell
    the runs; ``size`` is the run's length in the visible text (0 when struck or gone)
    and ``total`` that of its subtree, so a visible position is found in O(log runs)
    without walking the runs before it."""

    __slots__ = ("kind", "text", "size", "total", "left", "right", "rank")

    def __init__(self, kind: int, text: str, rank: float) -> None:
        self.kind = kind
        self.text = text
        self.size = self.total = len(text)
        self.left: _Run | None = None
        self.right: _Run | None = None
        self.rank = rank  # from _rank(): parents outrank their children

    def fix(self) -> None:
        """Recount ``total`` after a child changed."""
        left, right = self.left, self.right
        self.total = (left.total if left is not None else 0) + self.size + (right.total if right is not None else 0)


def _split(node: _Run | None, pos: int) -> tuple[_Run | None, _Run | None]:
    """Cut the runs of ``node`` (0 <= pos <= its total) into those before visible ``pos``
    and the rest, a run across it cut in two.  The struck runs right before visible
    character ``pos`` go with the first part: an insertion there goes after them."""
    if node is None:
        return None, None
    left = node.left
    before = left.total if left is not None else 0
    if pos < before:
        first, node.left = _split(left, pos)
        node.fix()
        return first, node
    pos -= before
    size = node.size
    if size == 0:  # struck or gone: before visible character pos
        node.right, rest = _split(node.right, pos)
        node.fix()
        return node, rest
    if pos == 0:
        node.left = None
        node.fix()
        return left, node
    if pos < size:  # the tail is a run of its own, ranked afresh: pieces of one run must not chain
        rest = _join(_Run(node.kind, node.text[pos:], _rank()), node.right)
        node.text = node.text[:pos]
        node.size = pos
        node.right = None
        node.fix()
        return node, rest
    node.right, rest = _split(node.right, pos - size)
    node.fix()
    return node, rest


def _insert(node: _Run | None, pos: int, run: _Run) -> _Run:
    """``node``'s runs with the single run ``run`` put before visible character ``pos``
    (after the struck runs right before it), a run across ``pos`` cut in two: what
    ``_split`` and two ``_join`` do, in one walk down."""
    if node is None:
        return run
    if run.rank > node.rank:
        run.left, run.right = _split(node, pos)
        run.fix()
        return run
    left = node.left
    before = left.total if left is not None else 0
    size = node.size
    if pos < before or (pos == before and size):
        node.left = _insert(left, pos, run)
    elif pos - before >= size:  # struck or gone, or pos at or past this run's end
        node.right = _insert(node.right, pos - before - size, run)
    else:  # inside this run: its tail, ranked afresh, and then ``run`` go first on the right
        rank = _rank()
        if rank > node.rank:  # the tail would outrank this run: cut the subtree there instead
            first, rest = _split(node, pos)
            joined = _join(_join(first, run), rest)
            assert joined is not None  # (it holds run)
            return joined
        cut = pos - before
        tail = _Run(node.kind, node.text[cut:], rank)
        node.text = node.text[:cut]
        node.size = cut
        node.right = _push_front(_push_front(node.right, tail), run)
    node.fix()
    return node


def _push_front(node: _Run | None, run: _Run) -> _Run:
    """``node``'s runs with the single run ``run`` first (before any struck run too)."""
    if node is None or run.rank > node.rank:
        run.left = None
        run.right = node
        run.fix()
        return run
    node.left = _push_front(node.left, run)
    node.fix()
    return node


def _join(first: _Run | None, second: _Run | None) -> _Run | None:
    """The runs of ``first`` followed by those of ``second``."""
    if first is None:
        return second
    if second is None:
        return first
    if first.rank > second.rank:
        first.right = _join(first.right, second)
        first.fix()
        return first
    second.left = _join(first, second.left)
    second.fix()
    return second


def _strike(node: _Run) -> None:
    """Delete every visible character of ``node``'s runs: kept text is struck, text the
    suggestion inserted is gone.  Subtrees with nothing visible are skipped, so text
    struck already costs nothing when a later deletion spans it again."""
    left, right = node.left, node.right
    if left is not None and left.total:
        _strike(left)
    if node.size:
        node.kind = _STRUCK if node.kind == _SAME else _GONE
        node.size = 0
    if right is not None and right.total:
        _strike(right)
    node.total = 0


def _runs(text: str, edits: Sequence[XfOp], agent: str) -> list[DiffSpan]:
    """``text`` as runs, after ``edits`` (positions in the visible text: kept and
    inserted runs) mark what they insert and strike what they delete.

    The runs are kept in a treap keyed by visible position (:class:`_Run`), so each
    edit costs O(log runs) plus the runs it strikes, instead of a walk over all the
    runs before it: a suggestion of n scattered ops lays out in O(n log n), not O(n^2).
    """
    root = _Run(_SAME, text, _rank()) if text else None
    for op_kind, pos, arg in edits:
        seen = root.total if root is not None else 0
        if not 0 <= pos <= seen:
            raise InvalidOpError(f"a merged edit at {pos} is past the text's end ({seen})")
        if op_kind == INS:
            inserted = str(arg)
            if inserted:  # (a merge never emits an empty insertion)
                root = _insert(root, pos, _Run(_INSERT, inserted, _rank()))
            continue
        length = int(arg)
        if pos + length > seen:
            raise InvalidOpError(f"a merged deletion at {pos} runs past the text's end")
        if length <= 0:
            continue
        first, rest = _split(root, pos)
        struck, rest = _split(rest, length)
        if struck is not None:
            _strike(struck)
        root = _join(_join(first, struck), rest)

    # In order, adjacent runs of one kind joined (their pieces gathered first: adding
    # each to a growing string would copy the text once per run).
    kinds: list[Literal["same", "insert", "delete"]] = []
    pieces: list[list[str]] = []
    stack: list[_Run] = []
    node = root
    while stack or node is not None:
        while node is not None:
            stack.append(node)
            node = node.left
        node = stack.pop()
        shown = _SHOWN.get(node.kind)
        if shown is not None and node.text:
            if kinds and kinds[-1] == shown:
                pieces[-1].append(node.text)
            else:
                kinds.append(shown)
                pieces.append([node.text])
        node = node.right
    return [DiffSpan(kind, "".join(p), None if kind == "same" else agent) for kind, p in zip(kinds, pieces)]
