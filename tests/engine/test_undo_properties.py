"""Properties of per-user undo/redo (``UndoManager``) under concurrent editing.

Every typed character is globally unique (each agent draws from its own
alphabet, see ``sim.py``); characters are tracked by id ``(agent, seq)``, which
public ``Document.position`` reveals.  ``USim`` drives several replicas, each
with its own ``UndoManager`` on an injected clock, and keeps an independent
model of every undo step (the ids it typed and deleted; step boundaries mirror
the documented grouping rules).  Every undo/redo is checked against an oracle
computed from that model and ``reference_items`` (the slow Fugue replay):

* it deletes exactly the step's typed characters that are still alive, or the
  copy an earlier undo/redo re-typed in place of one (so never anyone else's:
  the set of other agents' visible characters is unchanged),
* it re-types exactly the characters the step deleted that no one else deleted
  (and that the step did not type itself), with the same values, each where its
  tombstone is: as many of the survivors that were around when it was deleted
  precede it as precede the tombstone,
* it returns None exactly when no step has an effect, ``can_undo``/``can_redo``
  follow the model, and its selection covers what it re-typed.

Sizes scale with ``COWRITE_HYPOTHESIS_EXAMPLES`` (default 200) and
``COWRITE_SIM_SEEDS`` (default 12).  Known bugs are strict xfails; the
regression tests at the bottom name each bug found.
"""

from __future__ import annotations

import os
import random
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cowrite.engine import Document, UndoManager, checkout
from cowrite.engine.reference import reference_items, reference_text
from engine_helpers import common_version
from sim import AGENT_NAMES, ALPHABETS, causal_shuffle, split_op

EXAMPLES = int(os.environ.get("COWRITE_HYPOTHESIS_EXAMPLES", "200"))
SIM_SEEDS = int(os.environ.get("COWRITE_SIM_SEEDS", "12"))

hyp = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TIMEOUT = 0.5
DTS = (0.0, 0.25, 0.5, 0.75, 2.0)  # clock advance before an action; 0.5 is exactly the timeout


class Clock:
    __slots__ = ("t",)

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def visible_ids(doc: Document) -> list[tuple[str, int]]:
    """The id of every character of the text, via the public position API."""
    out = []
    for i in range(len(doc)):
        p = doc.position(i)
        out.append((p.agent, p.seq))
    return out


class RefInfo:
    """The reference (slow replay) view of a replica: order, values, deleters, gaps."""

    def __init__(self, doc: Document) -> None:
        cg = doc.oplog.cg
        self.char: dict[tuple[str, int], str] = {}
        self.deleters: dict[tuple[str, int], set[str]] = {}  # agents that deleted it
        self.gap: dict[tuple[str, int], int] = {}  # survivors before it (its index if alive)
        self.visible: list[tuple[str, int]] = []
        self.order: list[tuple[str, int]] = []  # every id, tombstones included
        for lv, ch, dels in reference_items(doc.oplog):
            rid = cg.lv_to_raw(lv)
            self.order.append(rid)
            self.char[rid] = ch
            self.deleters[rid] = {cg.lv_to_raw(d)[0] for d in dels}
            self.gap[rid] = len(self.visible)
            if not dels:
                self.visible.append(rid)
        self.text = "".join(self.char[x] for x in self.visible)
        self.alive = set(self.visible)


class Step:
    """Model of one undo step: the ids it typed and deleted (and, single-user, the texts)."""

    __slots__ = ("time", "ins", "dels", "start", "end")

    def __init__(self, time: float, start: str = "") -> None:
        self.time = time
        self.ins: list[tuple[str, int]] = []
        self.dels: list[tuple[str, int]] = []
        self.start = start  # text before the step
        self.end = start  # text after it


class Peer:
    def __init__(self, idx: int, name: str) -> None:
        self.idx = idx
        self.name = name
        self.clock = Clock()
        self.doc = Document(name, clock=self.clock)
        self.um = UndoManager(self.doc, capture_timeout=TIMEOUT, clock=self.clock)
        self.undo_model: list[Step] = []
        self.redo_model: list[Step] = []
        self.boundary = True  # mirrors the documented grouping rules
        self.depth = 0
        self.redone: dict[tuple[str, int], tuple[str, int]] = {}  # tombstone -> its re-typed copy


class USim:
    """Replicas with undo managers, an undo oracle and the usual delivery methods.

    ``single_edit_steps``: end the undo step after every action (each step is one
    edit).  ``text_model`` (single user only): also check that undo/redo restore
    the exact texts from before/after each step.  ``check_order``: also check that
    the characters one undo/redo re-types read in the order of their tombstones.
    """

    def __init__(
        self, n_agents: int, *, single_edit_steps: bool = False, text_model: bool = False, check_order: bool = False
    ) -> None:
        self.peers = [Peer(i, n) for i, n in enumerate(AGENT_NAMES[:n_agents])]
        self.counters = [0] * n_agents
        self.offline: set[int] = set()
        self.single_edit_steps = single_edit_steps
        self.text_model = text_model
        self.check_order = check_order
        self.log: list[str] = []
        self.undos = 0  # undo/redo calls that did something
        self.copies: set[tuple[str, int]] = set()  # every character re-typed by an undo/redo
        # deleted id -> the ids visible when it was deleted (for deletes by undo/redo
        # too): the survivors that were around it then
        self.seen_at_delete: dict[tuple[str, int], frozenset] = {}

    @property
    def docs(self) -> list[Document]:
        return [p.doc for p in self.peers]

    # -- local edits ------------------------------------------------------------------

    def _chars(self, i: int, n: int) -> str:
        base, limit = ALPHABETS[i % len(ALPHABETS)]
        k = self.counters[i]
        self.counters[i] = k + n
        assert base + k + n <= limit
        return "".join(chr(base + k + j) for j in range(n))

    def _edit(self, p: Peer, before: str, ins=(), dels=()) -> None:
        """Record a local edit in the model, the way the UndoManager groups it."""
        now = p.clock.t
        p.redo_model.clear()
        top = p.undo_model[-1] if p.undo_model else None
        if top is None or p.boundary or (p.depth == 0 and now - top.time > TIMEOUT):
            top = Step(now, before)
            p.undo_model.append(top)
        p.boundary = False
        top.time = now
        top.ins.extend(ins)
        top.dels.extend(dels)
        top.end = p.doc.text
        assert p.um.can_undo and not p.um.can_redo, "a local edit must clear redo"

    def _end_action(self, p: Peer) -> None:
        if self.single_edit_steps and p.depth == 0:
            p.um.stop_capturing()
            p.boundary = True

    def insert(self, i: int, raw: int, n: int) -> None:
        p = self.peers[i]
        d = p.doc
        pos = raw % (len(d) + 1)
        s = self._chars(i, n)
        before = d.text
        d.insert(pos, s)
        ids = visible_ids(d)[pos : pos + n]
        assert all(x[0] == p.name for x in ids)
        self._edit(p, before, ins=ids)
        self.log.append(f"{p.name}.insert({pos}, {s!r})")

    def insert_backwards(self, i: int, raw: int, n: int) -> None:
        pos = raw % (len(self.peers[i].doc) + 1)
        for _ in range(n):
            self.insert(i, pos, 1)

    def delete(self, i: int, pos_raw: int, len_raw: int, backspace: bool = False) -> None:
        p = self.peers[i]
        d = p.doc
        if not len(d):
            return
        pos = pos_raw % len(d)
        n = 1 + len_raw % min(12, len(d) - pos)
        vis = visible_ids(d)
        ids = vis[pos : pos + n]
        seen = frozenset(vis)
        for x in ids:
            self.seen_at_delete[x] = seen
        before = d.text
        if backspace:
            for k in range(n - 1, -1, -1):
                d.delete(pos + k, 1)
        else:
            d.delete(pos, n)
        assert d.text == before[:pos] + before[pos + n :]
        self._edit(p, before, dels=ids)
        self.log.append(f"{p.name}.{'backspace' if backspace else 'delete'}({pos}, {n})")

    def pause(self, i: int, stop: bool) -> None:
        p = self.peers[i]
        if stop:
            p.um.stop_capturing()
            p.boundary = True
            self.log.append(f"{p.name}.stop_capturing()")
        else:
            p.clock.t += 2 * TIMEOUT + 1

    def group(self, i: int, a: int, b: int) -> None:
        """Three edits in one ``with um.group()`` block, with time passing inside it."""
        p = self.peers[i]
        self.log.append(f"with {p.name}.group():")
        with p.um.group():
            if p.depth == 0:
                p.boundary = True
            p.depth += 1
            self.insert(i, a, 1 + b % 3)
            p.clock.t += 2 * TIMEOUT + 1  # the block ignores the timeout
            self.delete(i, b, a)
            self.insert(i, a >> 2, 1)
            p.depth -= 1
            if p.depth == 0:
                p.boundary = True

    # -- undo and redo, checked against the model ------------------------------------

    def latest(self, p: Peer, x: tuple[str, int]) -> tuple[str, int]:
        """The copy that stands for ``x`` now (``x`` itself if never re-typed)."""
        while x in p.redone:
            x = p.redone[x]
        return x

    def undo(self, i: int, redo: bool = False):
        p = self.peers[i]
        d = p.doc
        me = p.name
        src, dst = (p.redo_model, p.undo_model) if redo else (p.undo_model, p.redo_model)
        p.boundary = True
        before = visible_ids(d)
        before_set = set(before)
        text0, version0 = d.text, d.version
        ref = RefInfo(d)
        assert ref.visible == before, "positions disagree with the reference order"
        assert ref.text == text0

        # the oracle: pop steps until one has an effect
        expected = None
        while src:
            step = src.pop()
            typed = set(step.ins)
            gone = {y for y in (self.latest(p, x) for x in step.ins) if y in before_set}
            back = [x for x in step.dels if x not in typed and ref.deleters[x] == {me}]
            if gone or back:
                expected = (step, gone, back)
                break

        res = p.um.redo() if redo else p.um.undo()
        what = "redo" if redo else "undo"
        self.log.append(f"{me}.{what}() -> {res}")
        after = visible_ids(d)
        after_set = set(after)
        if expected is None:
            assert res is None, f"{what} did something with nothing to {what}"
            assert d.text == text0 and d.version == version0
            assert not p.um.can_redo if redo else not p.um.can_undo
            return None
        step, gone, back = expected
        assert res is not None, f"{what} returned None but a step has an effect"

        # never touches anyone else's characters
        others_before = {x for x in before if x[0] != me}
        others_after = {x for x in after if x[0] != me}
        assert others_after == others_before, f"{what} touched another agent's characters"
        removed = before_set - after_set
        added = [x for x in after if x not in before_set]
        assert removed == gone, f"{what} deleted {sorted(removed)}, expected {sorted(gone)}"
        assert all(x[0] == me for x in added)

        # re-types exactly the characters only I deleted (never one someone else deleted)
        post = RefInfo(d)
        assert post.text == d.text, "text differs from the reference after undo"
        assert Counter(post.char[x] for x in added) == Counter(ref.char[x] for x in back), (
            f"{what} re-typed {[post.char[x] for x in added]!r}, expected {[ref.char[x] for x in back]!r}"
        )
        for t in back:
            assert post.deleters[t] == {me}, "re-typed a character someone else deleted"
        added_set = set(added)
        # pair each copy with its tombstone (same value; in order if a value repeats)
        rank = {x: k for k, x in enumerate(post.order)}
        copies_of: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for x in sorted(added, key=rank.__getitem__):
            copies_of[post.char[x]].append(x)
        pairs = []
        for t in sorted(back, key=rank.__getitem__):
            pairs.append((t, copies_of[ref.char[t]].pop(0)))
        # Each copy is at its tombstone's place: as many of the *old* survivors
        # precede it as precede the tombstone.  Old survivors: characters visible
        # when it was deleted (so on one side of it then, and for good) that are
        # not copies.  Newer characters and copies can legitimately end up on
        # either side: a copy is placed where its tombstone's gap is at the time,
        # and characters typed concurrently next to the original may not follow it.
        for t, n in pairs:
            old = self.seen_at_delete[t]
            k = 0
            gap_old = {}
            for x in post.order:
                gap_old[x] = k
                if x in post.alive and x in old and x not in self.copies and x not in added_set:
                    k += 1
            assert gap_old[n] == gap_old[t], f"{post.char[n]!r} re-typed away from its tombstone"
        # and the re-typed text reads in its old order
        if self.check_order:
            news = [n for _, n in pairs]
            assert news == sorted(news, key=rank.__getitem__), f"{what} re-typed text out of order"

        # the selection: the re-typed text, else a caret
        assert 0 <= res.anchor <= res.head <= len(d)
        if added:
            idx = [post.gap[x] for x in added]
            assert res.anchor <= min(idx) and max(idx) < res.head
        else:
            assert res.anchor == res.head

        if self.text_model:
            assert text0 == step.end, f"{what}: text {text0!r} is not where the step left it {step.end!r}"
            assert d.text == step.start, f"{what} gave {d.text!r}, expected {step.start!r}"
        for t, n in pairs:
            p.redone[t] = n
            self.copies.add(n)
        seen = frozenset(before)
        for x in gone:
            self.seen_at_delete[x] = seen
        inverse = Step(p.clock.t, text0)
        inverse.ins = added
        inverse.dels = sorted(gone)
        inverse.end = d.text
        dst.append(inverse)
        assert p.um.can_undo == bool(p.undo_model) and p.um.can_redo == bool(p.redo_model)
        self.undos += 1
        return res

    def undo_then_redo(self, i: int) -> None:
        """With no remote ops in between, redo puts back exactly the text undo changed."""
        d = self.peers[i].doc
        t0 = d.text
        if self.undo(i) is None:
            return
        assert self.undo(i, redo=True) is not None
        assert d.text == t0, f"undo+redo: {t0!r} became {d.text!r}\n" + "\n".join(self.log[-12:])

    def redo_then_undo(self, i: int) -> None:
        d = self.peers[i].doc
        t0 = d.text
        if self.undo(i, redo=True) is None:
            return
        assert self.undo(i) is not None
        assert d.text == t0, f"redo+undo: {t0!r} became {d.text!r}\n" + "\n".join(self.log[-12:])

    def undo_all(self, i: int) -> None:
        """Undo until None on a replica; check only this agent's characters went."""
        p = self.peers[i]
        d = p.doc
        before = visible_ids(d)
        n = 0
        while self.undo(i) is not None:
            n += 1
            assert n < 1000
        assert not p.um.can_undo and p.um.undo() is None
        after = visible_ids(d)
        others = {x for x in before if x[0] != p.name}
        assert others == {x for x in after if x[0] != p.name}, "undo-all touched another agent's characters"
        # what is left of this agent's own characters are copies its undo/redo
        # re-typed of *other agents'* characters it had deleted: none of its typing
        # survives, not even as a copy
        made_from = {n: t for t, n in p.redone.items()}
        for x in after:
            if x[0] == p.name:
                root = x
                while root in made_from:
                    root = made_from[root]
                assert root[0] != p.name, f"undo-all left {x} ({d.text[after.index(x)]!r}), typed by {p.name}"

    # -- merging ----------------------------------------------------------------------

    def merge(self, r: int, s: int, method: int, seed: int) -> None:
        if r == s or r in self.offline or s in self.offline:
            return
        recv, send = self.docs[r], self.docs[s]
        rng = random.Random(seed)
        method %= 5
        if method == 0:
            recv.merge(send)
        elif method == 1:
            recv.add_ops(send.ops_since(common_version(recv, send)))
        elif method == 2:  # single-char ops in a random causal order, in batches
            ops = [o for op in send.ops_since(common_version(recv, send)) for o in split_op(op)]
            cg = recv.oplog.cg
            order = causal_shuffle(ops, lambda a, q: cg.raw_to_lv(a, q) is not None, rng)
            k = 0
            while k < len(order):
                step = rng.randint(1, max(1, len(order) // 6))
                recv.add_ops(order[k : k + step])
                k += step
        elif method == 3:  # a causal prefix only: a partial sync
            ops = send.ops_since(common_version(recv, send))
            recv.add_ops(ops[: rng.randint(0, len(ops))])
        else:  # two-way
            recv.merge(send)
            send.merge(recv)
        self.log.append(f"{recv.agent} <- {send.agent} (method {method}, seed {seed})")

    def set_offline(self, i: int, off: bool) -> None:
        (self.offline.add if off else self.offline.discard)(i)

    def sync_online(self) -> None:
        """Everyone online exchanges everything."""
        online = [p.doc for p in self.peers if p.idx not in self.offline]
        for d in online[1:]:
            online[0].merge(d)
        for d in online[1:]:
            d.merge(online[0])
        self.log.append(f"sync {[d.agent for d in online]}")

    def sync_all(self) -> None:
        self.offline.clear()
        docs = self.docs
        for d in docs[1:]:
            docs[0].merge(d)
        for d in docs[1:]:
            d.merge(docs[0])

    def check_converged(self, seed: int = 0) -> str:
        """Everyone has everything: same text, equal to the reference, a fresh
        checkout, and an observer fed every op as single-char ops in a random order."""
        docs = self.docs
        text = docs[0].text
        for d in docs:
            assert d.text == text, f"{d.agent}: {d.text!r} != {text!r}"
            assert d.version == docs[0].version
        assert text == reference_text(docs[0].oplog)
        assert text == str(checkout(docs[0].oplog).text)
        ops = [o for op in docs[0].ops_since(()) for o in split_op(op)]
        observer = Document("observer")
        rng = random.Random(seed)
        order = causal_shuffle(ops, lambda a, q: False, rng)
        k = 0
        while k < len(order):
            step = rng.randint(1, max(2, len(order) // 8))
            observer.add_ops(order[k : k + step])
            k += step
        assert observer.text == text
        return text


# -- the action language ---------------------------------------------------------------

U_INS, U_INS1, U_BACKWARDS, U_DEL, U_BACKSPACE, U_PAUSE, U_GROUP = range(7)
U_UNDO, U_UNDO2, U_REDO, U_MERGE, U_MERGE2, U_OFFLINE, U_UNDO_REDO, U_REDO_UNDO, U_SYNC = range(7, 16)

# (kind, agent, other, a, b, dt): interpreted modulo the current state
action = st.tuples(
    st.integers(0, 15),
    st.integers(0, 3),
    st.integers(0, 3),
    st.one_of(st.integers(0, 3), st.integers(0, 2**16)),
    st.integers(0, 2**16),
    st.sampled_from(DTS),
)


def run_actions(sim: USim, actions, pairs: bool = False) -> None:
    """Apply actions; with ``pairs`` the last two kinds are checked undo+redo pairs,
    else plain undo/redo."""
    n = len(sim.peers)
    for kind, i, j, a, b, dt in actions:
        i %= n
        j %= n
        p = sim.peers[i]
        p.clock.t += dt
        if kind == U_INS:
            sim.insert(i, a, 1 + b % 4)
        elif kind == U_INS1:
            sim.insert(i, a, 1)
        elif kind == U_BACKWARDS:
            sim.insert_backwards(i, a, 1 + b % 3)
        elif kind in (U_DEL, U_BACKSPACE):
            sim.delete(i, a, b, backspace=kind == U_BACKSPACE)
        elif kind == U_PAUSE:
            sim.pause(i, stop=b % 2 == 0)
        elif kind == U_GROUP:
            if sim.single_edit_steps:
                sim.insert(i, a, 1 + b % 4)
            else:
                sim.group(i, a, b)
        elif kind in (U_UNDO, U_UNDO2):
            sim.undo(i)
        elif kind == U_REDO:
            sim.undo(i, redo=True)
        elif kind in (U_MERGE, U_MERGE2):
            if n > 1:
                sim.merge(i, j, a, b)
        elif kind == U_OFFLINE:
            if n > 1:
                sim.set_offline(i, i not in sim.offline)
        elif kind == U_UNDO_REDO:
            sim.undo_then_redo(i) if pairs else sim.undo(i)
        elif kind == U_REDO_UNDO:
            sim.redo_then_undo(i) if pairs else sim.undo(i, redo=True)
        else:
            sim.sync_online()
        if kind <= U_GROUP:
            sim._end_action(p)


def _ex(*acts):
    """Actions for an @example: (kind, a, b, dt) for agent 0."""
    return [(k, 0, 0, a, b, dt) for k, a, b, dt in acts]


# "one two three" in miniature: type "LTR"; delete T; delete R; undo; undo
EX_TWO_DELETES = _ex((U_INS, 0, 2, 0.0), (U_DEL, 1, 0, 2.0), (U_DEL, 1, 0, 2.0), (U_UNDO, 0, 0, 2.0), (U_UNDO, 0, 0, 2.0))
# type "L", "R", "T" between them; undo; undo; redo; redo
EX_UNDO_UNDO_REDO_REDO = _ex(
    (U_INS1, 0, 0, 0.0), (U_INS1, 1, 0, 2.0), (U_INS1, 1, 0, 2.0),
    (U_UNDO, 0, 0, 2.0), (U_UNDO, 0, 0, 0.0), (U_REDO, 0, 0, 0.0), (U_REDO, 0, 0, 0.0),
)  # fmt: skip
# type "LTRS"; one step: delete T, delete S, delete R -> "L"; undo
EX_ONE_STEP_DELETES = _ex((U_INS, 0, 3, 0.0), (U_DEL, 1, 0, 2.0), (U_DEL, 2, 0, 0.0), (U_DEL, 1, 0, 0.0), (U_UNDO, 0, 0, 2.0))
# type "abc"; delete "b"; undo; undo
EX_RETYPED_CHAIN = _ex((U_INS, 0, 2, 0.0), (U_DEL, 1, 0, 2.0), (U_UNDO, 0, 0, 2.0), (U_UNDO, 0, 0, 2.0))


# type "ca"; one step: insert "x" at 1, "y" at 0 ("ycxa"), delete "c", delete "yxa"; undo
EX_NEIGHBOURS_GONE = _ex(
    (U_INS, 0, 1, 0.0), (U_INS1, 1, 0, 2.0), (U_INS1, 0, 0, 0.0), (U_DEL, 1, 0, 0.0), (U_DEL, 0, 2, 0.0),
    (U_UNDO, 0, 0, 2.0),
)  # fmt: skip

# m types "1", then "4" before it; b types "y", merges ("y41"), deletes "y" and "1"
# in one step; m merges and undoes "4"; b merges ("") and undoes: "y1" expected
EX_NEIGHBOURS_DELETED_REMOTELY = [
    (U_INS1, 0, 0, 0, 0, 0.0), (U_INS1, 0, 0, 0, 0, 2.0), (U_INS1, 1, 0, 0, 0, 0.0),
    (U_MERGE, 1, 0, 0, 0, 0.0), (U_DEL, 1, 0, 0, 0, 2.0), (U_DEL, 1, 0, 1, 0, 0.0),
    (U_MERGE, 0, 1, 0, 0, 0.0), (U_UNDO, 0, 0, 0, 0, 2.0), (U_MERGE, 1, 0, 0, 0, 0.0),
    (U_UNDO, 1, 0, 0, 0, 2.0),
]  # fmt: skip


# -- 1. undo then redo restores the text -------------------------------------------------


@hyp
@given(n_agents=st.integers(1, 3), actions=st.lists(action, min_size=20, max_size=60))
def test_undo_then_redo_restores_text(n_agents, actions):
    """Each step one edit; remote ops merged at random before undo/redo, none between
    an undo and its redo (or a redo and its undo): the pair restores the exact text.
    The oracle runs on every undo/redo too."""
    sim = USim(n_agents, single_edit_steps=True)
    run_actions(sim, actions, pairs=True)


@hyp
@given(n_agents=st.integers(1, 3), actions=st.lists(action, min_size=20, max_size=60))
def test_undo_then_redo_restores_text_multi_edit_steps(n_agents, actions):
    """As above with steps grouped by time and ``group()``: steps of several edits."""
    sim = USim(n_agents)
    run_actions(sim, actions, pairs=True)


@hyp
@example(actions=EX_TWO_DELETES)
@example(actions=EX_UNDO_UNDO_REDO_REDO)
@example(actions=EX_RETYPED_CHAIN)
@given(actions=st.lists(action, min_size=20, max_size=60))
def test_single_user_undo_redo_walks_the_history_single_edit_steps(actions):
    """One user, each step one edit: every undo restores the exact text from before
    its step, every redo the text after it, however undo, redo and new edits
    interleave."""
    sim = USim(1, text_model=True, single_edit_steps=True)
    run_actions(sim, actions)


@hyp
@example(actions=EX_NEIGHBOURS_GONE)
@example(actions=EX_TWO_DELETES)
@example(actions=EX_ONE_STEP_DELETES)
@example(actions=EX_RETYPED_CHAIN)
@given(actions=st.lists(action, min_size=20, max_size=60))
def test_single_user_undo_redo_walks_the_history(actions):
    """As above with steps of several edits (by time and ``group()``)."""
    sim = USim(1, text_model=True)
    run_actions(sim, actions, pairs=True)


# -- 2. undo never touches other agents' characters --------------------------------------


@hyp
@given(n_agents=st.integers(2, 4), actions=st.lists(action, min_size=20, max_size=60))
def test_undo_only_reverses_own_edits(n_agents, actions):
    """The oracle after every undo/redo (see the module docstring): other agents'
    characters unchanged, exactly the step's own surviving typing deleted, only
    characters deleted by me alone re-typed, each at its tombstone."""
    sim = USim(n_agents)
    run_actions(sim, actions)


@hyp
@example(n_agents=2, actions=EX_NEIGHBOURS_DELETED_REMOTELY)
@given(n_agents=st.integers(1, 4), actions=st.lists(action, min_size=20, max_size=60))
def test_undo_retypes_text_in_its_order(n_agents, actions):
    """What one undo/redo re-types reads in the order of its tombstones."""
    sim = USim(n_agents, check_order=True)
    run_actions(sim, actions)


# (kind, agent, a, b) for the concurrent phase: insert, delete or backspace
local_edit = st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 2**16), st.integers(0, 2**16))


@hyp
@given(
    n_agents=st.integers(2, 4),
    base=st.integers(4, 20),
    edits=st.lists(local_edit, min_size=2, max_size=12),
    actions=st.lists(action, max_size=40),
    seed=st.integers(0, 2**16),
)
def test_undo_of_concurrent_deletes_restores_only_mine(n_agents, base, edits, actions, seed):
    """Everyone starts from one shared text and edits it concurrently (overlapping
    deletes are likely), then merges, undoes and redoes at random; finally each
    agent undoes everything on a fully synced replica.  The oracle checks that a
    character someone else also deleted never comes back, and that others' text is
    never touched."""
    sim = USim(n_agents)
    sim.insert(0, 0, base)
    sim.sync_all()
    for i in range(n_agents):
        sim.pause(i, stop=True)
    for kind, i, a, b in edits:
        i %= n_agents
        if kind == 0:
            sim.insert(i, a, 1 + b % 3)
        else:
            sim.delete(i, a, b % 6, backspace=kind == 2)
    run_actions(sim, actions)
    order = list(range(n_agents))
    random.Random(seed).shuffle(order)
    for i in order:
        sim.sync_all()
        sim.undo_all(i)
    sim.sync_all()
    sim.check_converged(seed)


# -- 3. concurrent undo/redo converges ---------------------------------------------------


@hyp
@given(actions=st.lists(action, min_size=20, max_size=60), seed=st.integers(0, 2**16))
def test_concurrent_undo_redo_converges(actions, seed):
    """3 agents undo/redo concurrently with partial syncs and offline stretches;
    after a full sync every replica, the reference replay, a fresh checkout and an
    observer fed single-char ops in a random order all have the same text."""
    sim = USim(3)
    run_actions(sim, actions)
    sim.sync_all()
    sim.check_converged(seed)


def _long_undo_sim(seed: int, n_agents: int, steps: int) -> USim:
    rng = random.Random(seed)
    sim = USim(n_agents)
    offline_until = [0] * n_agents
    for t in range(steps):
        for i in range(n_agents):
            if t >= offline_until[i] and i in sim.offline:
                sim.set_offline(i, False)
        i = rng.randrange(n_agents)
        p = sim.peers[i]
        p.clock.t += rng.choice(DTS)
        r = rng.random()
        a, b = rng.randrange(2**16), rng.randrange(2**16)
        if r < 0.3:
            sim.insert(i, a, rng.choice([1, 1, 2, 3, 6]))
        elif r < 0.35:
            sim.insert_backwards(i, a, rng.randint(2, 4))
        elif r < 0.5:
            sim.delete(i, a, b, backspace=rng.random() < 0.3)
        elif r < 0.53:
            sim.group(i, a, b)
        elif r < 0.58:
            sim.pause(i, stop=rng.random() < 0.5)
        elif r < 0.7:
            sim.undo(i)
        elif r < 0.76:
            sim.undo(i, redo=True)
        elif r < 0.97:
            sim.merge(i, rng.randrange(n_agents), rng.randrange(5), b)
        else:
            sim.set_offline(i, True)
            offline_until[i] = t + rng.randint(20, 80)
    return sim


@pytest.mark.parametrize("seed", range(SIM_SEEDS))
def test_seeded_undo_simulation(seed):
    """Longer histories (150-250 actions, offline stretches), 3-4 agents: the
    oracle on every undo/redo, convergence at the end, then undo-all for everyone."""
    rng = random.Random(seed)
    sim = _long_undo_sim(seed, 3 + seed % 2, rng.randint(150, 250))
    try:
        sim.sync_all()
        sim.check_converged(seed)
        for i in range(len(sim.peers)):
            sim.undo_all(i)
            sim.sync_all()
            sim.check_converged(seed + i)
    except AssertionError:
        print(f"seed {seed} failed; last actions:\n  " + "\n  ".join(sim.log[-20:]))
        raise


# -- 4. undoing everything ---------------------------------------------------------------


@hyp
@given(n_agents=st.integers(2, 4), actions=st.lists(action, min_size=20, max_size=60), seed=st.integers(0, 2**16))
def test_undo_all_removes_only_own_characters(n_agents, actions, seed):
    """After a full sync, each agent in turn undoes until None (then everyone syncs).
    Asserted (``USim.undo_all``): every other agent's visible character (by id)
    survives, and no character of the agent's own typing is left, not even as a
    copy re-typed by its undo/redo; the only characters of its own that may remain
    are copies it re-typed of other agents' characters (undoing its delete of them).
    Everyone converges at the end."""
    sim = USim(n_agents)
    run_actions(sim, actions)
    order = list(range(n_agents))
    random.Random(seed).shuffle(order)
    for i in order:
        sim.sync_all()
        sim.undo_all(i)
    sim.sync_all()
    sim.check_converged(seed)


# -- regressions -------------------------------------------------------------------------


def _user(text: str = ""):
    clock = Clock()
    d = Document("u", clock=clock)
    if text:
        d.insert(0, text)
    um = UndoManager(d, capture_timeout=TIMEOUT, clock=clock)
    return d, um, clock


def test_regression_undo_two_adjacent_deletes_keeps_order():
    d, um, clock = _user("one two three")
    d.delete(3, 4)  # " two"
    clock.t += 2
    d.delete(3, 6)  # " three"
    clock.t += 2
    assert d.text == "one"
    um.undo()
    assert d.text == "one three"
    um.undo()
    assert d.text == "one two three"  # was "one three two"


def test_regression_undo_undo_redo_redo_keeps_order():
    d, um, clock = _user()
    for pos, ch in [(0, "L"), (1, "R"), (1, "T")]:
        d.insert(pos, ch)
        clock.t += 2
    assert d.text == "LTR"
    um.undo()
    um.undo()
    assert d.text == "L"
    um.redo()
    um.redo()
    assert d.text == "LTR"  # was "LRT"


def test_regression_undo_of_one_step_with_several_deletes_keeps_order():
    d, um, clock = _user("LTRS")
    with um.group():
        d.delete(1, 1)  # T
        d.delete(2, 1)  # S
        d.delete(1, 1)  # R
    assert d.text == "L"
    um.undo()
    assert d.text == "LTRS"  # was "LRST"


def test_regression_undo_insert_after_undoing_later_delete():
    d, um, clock = _user()
    d.insert(0, "abc")
    clock.t += 2
    d.delete(1, 1)
    clock.t += 2
    um.undo()
    assert d.text == "abc"
    um.undo()
    assert d.text == ""  # was "b": the re-typed "b" is a new id the insert step did not know


def test_regression_undo_retypes_in_order_when_neighbours_are_gone():
    d, um, clock = _user("ca")
    clock.t += 2
    d.insert(1, "x")
    d.insert(0, "y")
    assert d.text == "ycxa"
    d.delete(1, 1)  # "c": its neighbours y and x are typed by this step...
    d.delete(0, 3)  # ...and deleted by it: nothing of them to bound where "c" goes
    assert d.text == ""
    um.undo()  # "a" is re-typed first, at the front of the gap, then "c" after it
    assert d.text == "ca"  # was "ac"


def test_regression_undo_retypes_in_order_when_neighbours_deleted_remotely():
    clock = Clock()
    m, b = Document("m", clock=clock), Document("b", clock=clock)
    um_m = UndoManager(m, capture_timeout=TIMEOUT, clock=clock)
    um_b = UndoManager(b, capture_timeout=TIMEOUT, clock=clock)
    m.insert(0, "1")
    with um_m.group():
        m.insert(0, "4")
    b.insert(0, "y")
    b.merge(m)
    assert b.text == "y41"
    clock.t += 2
    b.delete(0, 1)  # "y" (right neighbour "4")
    b.delete(1, 1)  # "1" (left neighbour "4"); same step
    m.merge(b)
    um_m.undo()
    um_m.undo()  # m removes "4": both neighbours of b's deletes are gone
    b.merge(m)
    assert b.text == ""
    um_b.undo()
    assert b.text == "y1"  # actual: "1y"
