"""The public face of the engine: a replica of one text document.

A :class:`Document` is one agent's replica: its op log (every op it knows) and a
branch (the current text at the op log's heads).  Local edits are recorded and
applied at once; remote ops are validated, appended and merged by the Eg-walker
(``merge/``).  Every method that takes untrusted input either succeeds or
raises a :class:`~cowrite.errors.CowriteError` and leaves the document as it was.
"""

from __future__ import annotations

import secrets
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import Protocol

from ..errors import CowriteError, DecodeError, InvalidOpError, UnknownParentError, UnknownVersionError
from .branch import Branch, apply_xf, check_fits, checkout
from .bulk import Edit, apply_local_edits, check_edits
from .causal_graph import CausalGraph, Frontier
from .codec import Head, LazyHistory, encode_head_first, encode_patch, open_document
from .codec.patch import build_ops, decode_patch_rows
from .history import Authorship, Change, authorship, changes
from .idmap import IdMap
from .limits import MAX_AGENT_LEN, MAX_SEQ
from .merge import MergeCache, XfOp, direct_edits, locate, merge_ops
from .oplog import DEL_BACK, DEL_FWD, INS, OpLog, copy_oplog, ops_unknown_to
from .ops import Op, RawVersion, check_time, check_unicode
from .positions import Position
from .summary import Summary, SummaryIds, normalize_summary

__all__ = ["Document", "LocalEdits"]


class LocalEdits(Protocol):
    """Told of every edit a replica makes itself (not merged ones): an UndoManager.

    ``on_insert``: ops ``lv ..`` inserted ``n`` characters at ``pos``.
    ``on_delete``: ops ``lv ..`` made at ``parents`` deleted ``text`` at ``pos``,
    characters whose ids are the LV runs ``ids``; ``left``/``right`` are the ids of
    the characters beside the gap afterwards (-1: none).
    """

    def on_insert(self, lv: int, pos: int, n: int) -> None: ...

    def on_delete(
        self, lv: int, parents: Frontier, pos: int, text: str, ids: list[tuple[int, int]], left: int, right: int
    ) -> None: ...


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidOpError(f"text must be a str, not {type(text).__name__}")
    check_unicode("text", text)
    return text


def _apply_xf_ids(ids: IdMap, xf: list[XfOp], lvs: list[int]) -> None:
    k = 0
    for kind, pos, arg in xf:
        if kind == INS:
            ids.insert(pos, lvs[k], len(arg))  # type: ignore[arg-type]
            k += 1
        else:
            ids.delete(pos, arg)  # type: ignore[arg-type]


def _add_when_ready(oplog: OpLog, ops: list[Op]) -> None:
    """Add ops given out of causal order, each once its parents are in.

    One queue per agent in seq order; each round adds from every queue's head until
    it waits on an unknown parent.  Costs O(ops + rounds * agents), not O(ops^2).
    A new op goes in by ``OpLog.add_row``, which says when a parent is missing
    instead of raising: a bulk load waits thousands of times, and building each
    ``UnknownParentError`` (its message names the missing ids) cost more than adding.
    Raises UnknownParentError if some op's parents never arrive.
    """
    queues: dict[str, list[Op]] = {}
    for op in ops:
        queues.setdefault(op.agent, []).append(op)
    heads = {a: 0 for a in queues}
    for a, q in queues.items():
        q.sort(key=lambda o: o.seq)
    cg = oplog.cg
    progress = True
    while progress:
        progress = False
        for a, q in queues.items():
            i = heads[a]
            while i < len(q):
                op = q[i]
                if op.seq >= cg.next_seq(a):  # new: add_remote's usual case, as a row
                    kind = INS if op.kind == "ins" else DEL_FWD if op.fwd else DEL_BACK
                    if oplog.add_row(a, op.seq, op.parents, kind, op.pos, op.span, op.content, op.time) is None:
                        break  # a parent is not in yet (nothing was added)
                else:
                    try:
                        oplog.add_remote(op)
                    except UnknownParentError:
                        break
                i += 1
                progress = True
            heads[a] = i
    for a, q in queues.items():
        if heads[a] < len(q):
            oplog.add_remote(q[heads[a]])  # raises the UnknownParentError


_DIRECT = True  # tests turn the direct path off to compare it with the merge walk


def _follows(cg: CausalGraph, start: int, heads: Frontier) -> bool:
    """Whether LVs ``start..`` form one chain on top of ``heads``: the first's parents
    are ``heads``, every later LV's parent is the LV before it."""
    starts = cg.starts
    parents = cg.parents
    i = bisect_right(starts, start) - 1
    if (parents[i] if starts[i] == start else (start - 1,)) != heads:
        return False
    for k in range(i + 1, len(starts)):
        if parents[k] != (starts[k] - 1,):
            return False
    return True


class Document:
    """One replica of a collaboratively edited text, owned by ``agent``."""

    __slots__ = ("_agent", "_oplog", "_branch", "_history", "_ids", "_observer", "_clock", "_merge_cache", "_seq_floor")

    def __init__(self, agent: str | None = None, *, clock: Callable[[], float] | None = None) -> None:
        if agent is None:
            agent = secrets.token_hex(8)
        if not isinstance(agent, str) or not agent or len(agent) > MAX_AGENT_LEN:
            raise InvalidOpError(f"agent must be a non-empty string of at most {MAX_AGENT_LEN} characters")
        self._agent = agent
        self._oplog = OpLog()
        self._branch = Branch()
        # A loaded head-first document's history, still packed: decoded on first need
        # (see _unpack); until then _oplog is empty and _branch.version a placeholder.
        self._history: LazyHistory | None = None
        self._ids: IdMap | None = None  # character ids of the text; built on first use
        self._observer: LocalEdits | None = None
        self._seq_floor = 0  # local ops get seqs from here at least (see reserve_seqs)
        # Op times are Unix seconds from this clock; a clock must return 0 <= t < 2**53.
        self._clock: Callable[[], float] = time.time if clock is None else clock
        check_time(int(self._clock()))
        self._merge_cache = MergeCache()  # walker state kept between merges

    # -- reading -------------------------------------------------------------------

    @property
    def agent(self) -> str:
        return self._agent

    @property
    def clock(self) -> Callable[[], float]:
        """Where op times come from (Unix seconds); a replacement replica keeps it."""
        return self._clock

    @property
    def text(self) -> str:
        return str(self._branch.text)

    def __len__(self) -> int:
        return len(self._branch.text)

    def __repr__(self) -> str:
        ops = self._history.n_lvs if self._history is not None else len(self._oplog)
        return f"<Document agent={self._agent!r} len={len(self)} ops={ops}>"

    @property
    def version(self) -> RawVersion:
        """The current version: the ``(agent, seq)`` ids of the op log's heads."""
        if self._history is not None:
            return self._history.version  # as stored; equal to what the history maps it to
        return self._oplog.cg.frontier_to_raw(self._branch.version)

    # -- the op log and the branch (a loaded document's history is read on first use) --

    @property
    def oplog(self) -> OpLog:
        """Every op this replica knows (a loaded document's is decoded here, on first use)."""
        if self._history is not None:
            self._unpack()
        return self._oplog

    @oplog.setter
    def oplog(self, oplog: OpLog) -> None:
        if self._history is not None:
            self._unpack()  # the branch's version must be an LV frontier of the old log first
        self._oplog = oplog

    @property
    def branch(self) -> Branch:
        """The text and its version (LVs of the op log: reading it decodes a loaded history)."""
        if self._history is not None:
            self._unpack()
        return self._branch

    @branch.setter
    def branch(self, branch: Branch) -> None:
        if self._history is not None:
            self._unpack()
        self._branch = branch

    def _unpack(self) -> None:
        """Decode the history a head-first load left packed.

        The frame's CRC-32 and the whole head were checked by :meth:`decode`; a
        history that is malformed under a valid checksum (forged, or written by a
        bug) is found only here.  Then :class:`DecodeError` is raised -- saying it is
        this document's stored history, not the caller's input, that is corrupt --
        and nothing changes: the text stays readable, and every later use of the
        history raises again.  Only ``decode(..., lazy=True)`` leaves a history
        packed; its default decodes it at once.
        """
        history = self._history
        assert history is not None
        try:
            oplog, version = history.decode()
        except DecodeError as exc:
            raise type(exc)(f"this document's stored history is corrupt (read on first use): {exc}") from None
        self._oplog = oplog
        self._branch.version = version
        self._history = None

    def text_at(self, version: RawVersion | Iterable[tuple[str, int]]) -> str:
        """The text as it was at ``version`` (any version this document knows)."""
        return str(checkout(self.oplog, self._lvs(version)).text)

    def ops_since(self, version: RawVersion | Iterable[tuple[str, int]] | None = None) -> list[Op]:
        """Every op this document has that is not in the history of ``version``."""
        return self.oplog.ops_since(self._lvs(version) if version is not None else ())

    def _lvs(self, version: Iterable[tuple[str, int]]) -> tuple[int, ...]:
        cg = self.oplog.cg
        out = []
        for item in version:
            try:
                agent, seq = item
            except (TypeError, ValueError):
                raise UnknownVersionError(f"bad version entry {item!r}") from None
            lv = cg.raw_to_lv(agent, seq) if isinstance(agent, str) and type(seq) is int else None
            if lv is None:
                raise UnknownVersionError(f"version names {item!r}, which this document does not have")
            out.append(lv)
        return cg.reduce(out)

    # -- local edits ---------------------------------------------------------------


    def apply_edits(self, edits: Iterable[Edit]) -> None:
        """Make many local edits ``(pos, n_deleted, text)`` in order, each as
        ``delete(pos, n_deleted)`` then ``insert(pos, text)`` would (``pos`` must fit
        the text even when an edit does nothing), all at one time.

        The same op log as one call per edit, built in one pass (``bulk.py``): a
        sequential trace replays several times faster.  All or nothing: a bad edit
        raises :class:`~cowrite.errors.InvalidOpError` naming it (``edit K: ...``) and
        the document is as it was; so is it when ``edits`` itself raises.
        """
        if self._history is not None:
            self._unpack()
        branch = self._branch
        oplog = self._oplog
        seq = oplog.cg.next_seq(self._agent)
        if seq < self._seq_floor:
            seq = self._seq_floor
        if self._ids is not None or self._observer is not None:
            # Character ids and undo need every edit's details: check all, then one by one.
            for pos, ndel, ins in check_edits(edits, len(branch.text)):
                if ndel:
                    self.delete(pos, ndel)
                if ins:
                    self.insert(pos, ins)
            return
        time = int(self._clock())
        text = apply_local_edits(oplog, branch.text, self._agent, seq, branch.version, time, edits)
        if text is not branch.text:  # something was edited
            branch.text = text
            branch.version = oplog.cg.heads

    def insert(self, pos: int, text: str) -> None:
        """Insert ``text`` before code point ``pos``."""
        if self._history is not None:
            self._unpack()
        branch = self._branch
        rope = branch.text
        if type(pos) is not int or not 0 <= pos <= len(rope):
            raise InvalidOpError(f"insert position {pos!r} outside 0..{len(rope)}")
        if not _check_text(text):
            return
        oplog = self._oplog
        n = len(text)
        seq = oplog.cg.next_seq(self._agent)
        if seq < self._seq_floor or seq + n > MAX_SEQ:  # rare: checked here, handled there
            seq = self._next_seq(seq, n)
        lv = oplog.add_local(self._agent, seq, INS, pos, len(text), text, branch.version, int(self._clock()))
        rope.insert(pos, text)
        branch.version = oplog.cg.heads
        if self._ids is not None:
            self._ids.insert(pos, lv, len(text))
        if self._observer is not None:
            self._observer.on_insert(lv, pos, len(text))

    def delete(self, pos: int, length: int = 1) -> None:
        """Delete ``length`` code points starting at ``pos``."""
        if self._history is not None:
            self._unpack()
        branch = self._branch
        rope = branch.text
        if type(pos) is not int or type(length) is not int or length < 0 or pos < 0 or pos + length > len(rope):
            raise InvalidOpError(f"delete of {length!r} at {pos!r} outside a {len(rope)}-character text")
        if not length:
            return
        oplog = self._oplog
        parents = branch.version
        seq = oplog.cg.next_seq(self._agent)
        if seq < self._seq_floor or seq + length > MAX_SEQ:  # rare: checked here, handled there
            seq = self._next_seq(seq, length)
        lv = oplog.add_local(self._agent, seq, DEL_FWD, pos, length, "", parents, int(self._clock()))
        deleted = rope.delete(pos, length)
        branch.version = oplog.cg.heads
        ids = self._ids
        if ids is not None:
            runs = ids.delete(pos, length)
            if self._observer is not None:
                left = ids.lv_at(pos - 1) if pos else -1
                right = ids.lv_at(pos) if pos < len(ids) else -1
                self._observer.on_delete(lv, parents, pos, deleted, runs, left, right)

    def _next_seq(self, seq: int, n: int) -> int:
        """The seq of this replica's next local op run of ``n`` ops, given the first seq
        its graph has not used (``insert``/``delete`` call this only when the seq floor
        or the end of the seqs is in the way: the per-keystroke path stays inline)."""
        if seq < self._seq_floor:
            seq = self._seq_floor
        if seq + n > MAX_SEQ:
            raise InvalidOpError(f"agent {self._agent!r} has no seqs left (every seq up to 2**53 is used)")
        return seq

    def reserve_seqs(self, end: int) -> None:
        """Give this replica's local edits from now on seqs ``>= end``.

        For a replica that replaces another of the same agent (e.g. a fresh copy of
        the server's document): seqs the old replica used for ops that never
        reached the server must not name different ops here.
        """
        if type(end) is not int or not 0 <= end <= MAX_SEQ:
            raise InvalidOpError(f"a seq floor must be an integer in 0..2**53, not {end!r}")
        self._seq_floor = max(self._seq_floor, end)

    # -- local-edit observers (undo) -------------------------------------------------

    @property
    def local_observer(self) -> LocalEdits | None:
        """Who is told of this replica's own edits (an UndoManager), if anyone."""
        return self._observer

    def observe_local(self, observer: LocalEdits | None) -> None:
        """Tell ``observer`` of every local edit from now on (``None``: stop).

        One observer at a time; the character ids of the text are built first (a
        delete is reported with the ids of what it removed)."""
        if observer is not None:
            if self._observer is not None and self._observer is not observer:
                raise CowriteError("this document already has an UndoManager")
            self.id_map()
        self._observer = observer

    def replace(self, pos: int, length: int, text: str) -> None:
        """Delete ``length`` characters at ``pos`` and insert ``text`` there."""
        if type(pos) is not int or type(length) is not int or length < 0 or pos < 0 or pos + length > len(self):
            raise InvalidOpError(f"replace of {length!r} at {pos!r} outside a {len(self)}-character text")
        _check_text(text)
        self.delete(pos, length)
        self.insert(pos, text)

    # -- merging -------------------------------------------------------------------

    def add_ops(self, ops: Iterable[Op]) -> list[XfOp]:
        """Merge ops from a peer; returns the edits applied to the text.

        Within one call ops may come in any order: an op whose parents come later in
        the batch waits for them.  Delivery is idempotent (known ops are skipped
        after checking they match) and all-or-nothing: if any op is invalid, conflicting or has unknown
        parents, nothing is changed and the error is raised.
        """
        oplog = self.oplog
        cg = oplog.cg
        start_lv = cg.next_lv
        start_heads = cg.heads
        try:
            pending: list[Op] = []
            for op in ops:
                if not isinstance(op, Op):
                    raise InvalidOpError(f"expected an Op, not {type(op).__name__}")
                if pending:
                    pending.append(op)
                    continue
                try:
                    oplog.add_remote(op)
                except UnknownParentError:
                    pending.append(op)  # its parents may come later in this batch
            if pending:
                _add_when_ready(oplog, pending)
        except BaseException:
            self._merge_cache.clear()
            oplog.truncate(start_lv, start_heads)
            raise
        return self._merge_added(start_lv, start_heads)

    def _merge_added(self, start_lv: int, start_heads: Frontier) -> list[XfOp]:
        """Bring the text up to the ops just appended to the op log (LVs ``start_lv..``,
        appended on top of ``start_heads``); on any failure roll the log back to them."""
        oplog = self._oplog
        cg = oplog.cg
        branch = self._branch
        if cg.next_lv == start_lv:
            return []
        try:
            lvs: list[int] | None = [] if self._ids is not None else None
            text_len = len(branch.text)
            if _DIRECT and branch.version == start_heads and _follows(cg, start_lv, start_heads):
                # The common case (a remote keystroke on top of everything we have):
                # nothing concurrent, so the ops are the edits.  The cached walk is
                # kept: to it these ops are like local edits, caught up (not
                # emitted) by the next merge, and dropped at the first critical
                # point it passes (walk.py).  Dropping it here would make the next
                # concurrent keystroke re-walk all the concurrency since the last
                # critical version, which under lasting concurrent typing is far back.
                xf = direct_edits(oplog, text_len, start_lv, cg.next_lv, lvs)
                version = cg.heads
            else:
                xf, version = merge_ops(oplog, text_len, branch.version, cg.heads, lvs, self._merge_cache, start_lv)
                check_fits(xf, text_len)
        except BaseException:
            # Bad input (a CowriteError) or a bug (anything else, which propagates as
            # itself): either way no half-merged document is left behind.
            self._merge_cache.clear()
            oplog.truncate(start_lv, start_heads)
            raise
        apply_xf(branch.text, xf)
        branch.version = version
        if self._ids is not None:
            assert lvs is not None
            _apply_xf_ids(self._ids, xf, lvs)
        return xf

    def merge(self, other: Document) -> list[XfOp]:
        """Bring in every op ``other`` has that this document lacks."""
        return self.add_ops(ops_unknown_to(other.oplog, self.oplog.cg))

    def summary(self) -> Summary:
        """Every op id this replica has: ``{agent: [(first_seq, end_seq), ...]}``.

        Send it to a peer that may lack some of your ops (e.g. on reconnecting
        with offline edits); its :meth:`ops_missing_from` then returns exactly
        what you miss.  A frontier cannot do that: the peer may not know it.
        """
        return self.oplog.cg.summary()

    def ops_missing_from(self, summary: object) -> list[Op]:
        """Every op this replica has whose id is not in a peer's :meth:`summary`.

        Raises :class:`InvalidOpError` if ``summary`` is not a valid summary."""
        return ops_unknown_to(self.oplog, SummaryIds(normalize_summary(summary)))

    def fork(self, agent: str | None = None) -> Document:
        """An independent replica with the same history, for another agent.

        Two replicas must never share an agent: their ops would get the same ids.
        """
        if agent == self._agent:
            raise InvalidOpError(f"a fork needs its own agent, not {agent!r} again")
        d = Document(agent, clock=self._clock)
        d.oplog = copy_oplog(self.oplog)
        d.branch = self.branch.copy()
        return d

    def copy(self) -> Document:
        """A snapshot of this replica, same agent (e.g. to try edits and throw them away).

        Never edit both: the same agent on two replicas makes clashing op ids.
        """
        d = Document(self._agent, clock=self._clock)
        d.oplog = copy_oplog(self.oplog)
        d.branch = self.branch.copy()
        d._seq_floor = self._seq_floor
        return d

    # -- character identity: positions, authorship --------------------------------

    def id_map(self) -> IdMap:
        """The LV of every character of the text (built by one checkout on first use)."""
        ids = self._ids
        if ids is None:
            ids = IdMap()
            lvs: list[int] = []
            xf, _ = merge_ops(self.oplog, 0, (), self.branch.version, lvs)
            _apply_xf_ids(ids, xf, lvs)
            assert len(ids) == len(self.branch.text), "id map out of step with the text"
            self._ids = ids
        return ids

    def position(self, index: int, assoc: int = 1) -> Position:
        """A stable position for the gap before code point ``index``.

        ``assoc=1`` ties it to the character after the gap (text inserted exactly
        there goes before the position); ``assoc=-1`` ties it to the character
        before (inserted text goes after it).  See :class:`Position`.
        """
        if type(index) is not int or not 0 <= index <= len(self):
            raise InvalidOpError(f"position index {index!r} outside 0..{len(self)}")
        if assoc not in (1, -1):
            raise InvalidOpError(f"assoc must be 1 or -1, not {assoc!r}")
        at = index if assoc == 1 else index - 1
        if not 0 <= at < len(self):
            return Position(None, 0, assoc)  # the document's end (1) or start (-1)
        agent, seq = self.oplog.cg.lv_to_raw(self.id_map().lv_at(at))
        return Position(agent, seq, assoc)

    def resolve(self, position: Position, version: RawVersion | Iterable[tuple[str, int]] | None = None) -> int:
        """The index of ``position`` in the text (now, or at ``version``).

        A position whose character was deleted resolves to where that character
        would be: after every surviving character that precedes it in document
        order.  Raises :class:`UnknownVersionError` if the character is not in the
        version (e.g. the ops that typed it have not arrived yet).
        """
        if not isinstance(position, Position):
            raise InvalidOpError(f"expected a Position, not {type(position).__name__}")
        target = self.branch.version if version is None else self._lvs(version)
        if position.agent is None:
            if position.assoc == -1:
                return 0
            return len(self) if version is None else len(self.text_at(version))
        cg = self.oplog.cg
        lv = cg.raw_to_lv(position.agent, position.seq)
        if lv is None or cg.diff((lv,), target)[0]:
            raise UnknownVersionError(
                f"position names {position.agent}:{position.seq}, which is not in this version of the document"
            )
        _, _, kind, ins_pos, _ = next(self.oplog.iter_ops(lv, lv + 1))
        if kind != INS:
            raise InvalidOpError(f"position names {position.agent}:{position.seq}, which is a delete, not a character")
        after = 1 if position.assoc == -1 else 0
        if version is None:
            i = self.id_map().index_of(lv)
            if i is not None:
                return i + after
        found = locate(self.oplog, (lv,), [ins_pos], target)[0]
        return found.pos + (after if found.alive else 0)

    def blame(self, version: RawVersion | Iterable[tuple[str, int]] | None = None) -> list[Authorship]:
        """Who typed each character of the text (now, or at ``version``), as runs."""
        if version is None:
            return authorship(self.oplog, self.id_map())
        ids = IdMap()
        lvs: list[int] = []
        xf, _ = merge_ops(self.oplog, 0, (), self._lvs(version), lvs)
        _apply_xf_ids(ids, xf, lvs)
        return authorship(self.oplog, ids)

    def changes(self, since: RawVersion | Iterable[tuple[str, int]] | None = None) -> list[Change]:
        """The edits in the history (after ``since``), oldest first, with agent and time."""
        return changes(self.oplog, self._lvs(since) if since is not None else ())

    # -- encoding ------------------------------------------------------------------

    def encode(self) -> bytes:
        """The whole document (history and current text) as bytes, head first: a
        loader reads the text and version without decoding the history (``codec/head.py``)."""
        oplog = self.oplog  # a packed history is decoded (and so checked) first
        return encode_head_first(oplog, str(self._branch.text), self._branch.version)

    @classmethod
    def decode(
        cls,
        data: bytes,
        agent: str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        max_bytes: int | None = None,
        lazy: bool = False,
    ) -> Document:
        """Load a document from :meth:`encode` bytes; reads the stored text, no replay.

        ``max_bytes`` bounds the encoding's body (inflated): a larger one raises
        :class:`~cowrite.errors.TooLargeError` before anything is inflated.

        By default everything is decoded and checked here: any bytes either give a
        working document or raise :class:`~cowrite.errors.DecodeError`, changing
        nothing -- what a store about to serve a document, or anyone handed bytes
        by a stranger, needs.

        ``lazy=True`` is for showing a document at once (opening a file, a big
        document's first paint, many documents held mostly unread): only the frame
        (magic, version, size, the CRC-32 of every byte) and the head of a
        head-first encoding (what :meth:`encode` writes: text and version, both
        checked) are read here, and the history stays packed -- its compressed
        bytes, not a Python object per op run -- until something needs it (a merge,
        a local edit, ``ops_since``, ``summary``, undo, ``encode``).  Damage is still
        refused here, by the CRC; what is left for first use is a history that is
        malformed under a valid checksum (forged, or written by a bug), refused then
        with :class:`~cowrite.errors.DecodeError` without changing anything (see
        ``_unpack``).  A classic encoding (``encode_document``, older versions) is
        always decoded in full.
        """
        loaded = open_document(data, max_bytes=max_bytes)
        d = cls(agent, clock=clock)
        if isinstance(loaded, Head):
            if lazy:
                d._branch = Branch(loaded.text, ())
                d._history = loaded.history
                return d
            oplog, version = loaded.history.decode()
            d._oplog = oplog
            d._branch = Branch(loaded.text, version)
            return d
        oplog, text, version = loaded
        d._oplog = oplog
        d._branch = Branch(text, version)
        return d

    def encode_patch(self, since: RawVersion | Iterable[tuple[str, int]] | None = None) -> bytes:
        """The ops since ``since`` (default: all) as bytes for a peer."""
        return encode_patch(self.ops_since(since))

    def apply_patch(self, data: bytes, *, max_bytes: int | None = None) -> list[XfOp]:
        """Merge a patch made by :meth:`encode_patch` (any peer's); ``max_bytes`` as for :meth:`decode`.

        The same as ``add_ops(decode_patch(data))``.  A keystroke's patch (one op
        run, new, on known parents: the bulk of live traffic) goes from its bytes
        straight into the op log's columns (``OpLog.add_row``), with no ``Op``
        object, and when it was made on this replica's version it is its own edit
        (the direct path of :meth:`add_ops`, for one run).  Anything else (several
        runs, a re-delivered op, a parent not yet known) takes ``add_ops``'s path.
        """
        rows, content, t_starts, t_values = decode_patch_rows(data, max_bytes=max_bytes)
        if len(rows) != 1:
            return self.add_ops(build_ops(rows, content, t_starts, t_values))
        agent, seq, raw_parents, kind, pos, n = rows[0]
        oplog = self.oplog
        cg = oplog.cg
        start_lv = cg.next_lv
        start_heads = cg.heads
        branch = self._branch
        lvs: list[int] | None = [] if self._ids is not None else None
        try:
            parents = oplog.add_row(agent, seq, raw_parents, kind, pos, n, content, t_values[0])
            # on this replica's version: one run on top of it (what _follows finds)
            direct = _DIRECT and parents == start_heads and branch.version == start_heads
            xf = direct_edits(oplog, len(branch.text), start_lv, cg.next_lv, lvs) if direct else []
        except BaseException:
            # Bad input (an op that does not fit) or a bug: nothing half-added is left.
            self._merge_cache.clear()
            oplog.truncate(start_lv, start_heads)
            raise
        if parents is None:
            return self.add_ops(build_ops(rows, content, t_starts, t_values))
        if not direct:
            return self._merge_added(start_lv, start_heads)
        # The cached walk is kept, as add_ops's direct path keeps it.
        apply_xf(branch.text, xf)
        branch.version = cg.heads
        if self._ids is not None:
            assert lvs is not None
            _apply_xf_ids(self._ids, xf, lvs)
        return xf
