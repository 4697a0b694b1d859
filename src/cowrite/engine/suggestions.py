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


def _runs(text: str, edits: Sequence[XfOp], agent: str) -> list[DiffSpan]:
    """``text`` as runs, after ``edits`` (positions in the visible text: kept and
    inserted runs) mark what they insert and strike what they delete."""
    runs: list[list[str]] = [["same", text]] if text else []  # [kind, text]

    def split(pos: int) -> int:
        """The index of the run that starts at visible ``pos`` (split there if need be),
        past the struck runs there: an insertion goes after them."""
        seen = 0
        for i, (kind, t) in enumerate(runs):
            if kind == "delete":
                continue
            if seen == pos:
                return i
            if seen + len(t) > pos:
                cut = pos - seen
                runs[i : i + 1] = [[kind, t[:cut]], [kind, t[cut:]]]
                return i + 1
            seen += len(t)
        if seen != pos:
            raise InvalidOpError(f"a merged edit at {pos} is past the text's end ({seen})")
        return len(runs)

    for op_kind, pos, arg in edits:
        if op_kind == INS:
            runs.insert(split(pos), ["insert", str(arg)])
            continue
        left = int(arg)
        i = split(pos)
        while left > 0:
            if i >= len(runs):
                raise InvalidOpError(f"a merged deletion at {pos} runs past the text's end")
            run_kind, t = runs[i]
            if run_kind == "delete":
                i += 1
                continue
            if len(t) > left:
                runs[i : i + 1] = [[run_kind, t[:left]], [run_kind, t[left:]]]
                t = t[:left]
            if run_kind == "same":
                runs[i][0] = "delete"
                i += 1
            else:  # text the suggestion inserted: deleted again, it is not shown
                del runs[i]
            left -= len(t)

    out: list[DiffSpan] = []
    for run_kind, t in runs:
        if not t:
            continue
        kind: Literal["same", "insert", "delete"] = "same" if run_kind == "same" else "insert" if run_kind == "insert" else "delete"
        who = None if kind == "same" else agent
        if out and out[-1].kind == kind:
            out[-1] = DiffSpan(kind, out[-1].text + t, who)
        else:
            out.append(DiffSpan(kind, t, who))
    return out
