"""A multi-replica editing simulation with an oracle for the CRDT's invariants.

Every inserted character is globally unique (each agent draws from its own
Unicode range, several of them astral or combining marks), so the survivors of a
history can be checked as a set and the placement of each typed run is visible.
"""

from __future__ import annotations

import random
from collections import Counter

from cowrite.engine import Document, Op, checkout
from cowrite.engine.reference import reference_text
from engine_helpers import assert_consistent, common_version

# Names picked so that index order, name order and length order all differ and
# ties are broken by comparing strings with common prefixes and non-ASCII.
AGENT_NAMES = ["m", "a", "ab", "Z", "\u00e4"]
# (base, limit) per agent: emoji/astral, CJK, Hangul, astral CJK ext, Latin+combining
ALPHABETS = [(0x1F300, 0x2FFFF), (0x4E00, 0xABFF), (0xAC00, 0xD7A3), (0x30000, 0x3FFFF), (0x0100, 0x4DFF)]


def split_op(op: Op) -> list[Op]:
    """A run op as the equivalent single-character ops."""
    out = []
    for i in range(op.span):
        parents = op.parents if i == 0 else ((op.agent, op.seq + i - 1),)
        if op.kind == "ins":
            out.append(Op.insert(op.agent, op.seq + i, parents, op.pos + i, op.content[i]))
        elif op.fwd:
            out.append(Op.delete(op.agent, op.seq + i, parents, op.pos, 1))
        else:
            out.append(Op.delete(op.agent, op.seq + i, parents, op.pos + op.length - 1 - i, 1))
    return out


def causal_shuffle(ops: list[Op], known, rng: random.Random) -> list[Op]:
    """``ops`` in a random order in which every op comes after its parents.

    ``known(agent, seq)`` says whether the receiver already has an id.  Ops must be
    single-character (see :func:`split_op`) so ids and ops correspond 1:1.
    """
    ids = {(op.agent, op.seq) for op in ops}
    delivered: set[tuple[str, int]] = set()
    pending = list(ops)
    out = []
    while pending:
        ready = [
            i
            for i, op in enumerate(pending)
            if all(p in delivered or (p not in ids and known(*p)) for p in op.parents)
        ]
        assert ready, "ops are not causally closed"
        i = rng.choice(ready)
        op = pending.pop(i)
        delivered.add((op.agent, op.seq))
        out.append(op)
    return out


class Sim:
    def __init__(self, n_agents: int, names: list[str] | None = None, check_reference_every_merge: bool = False):
        names = names or AGENT_NAMES[:n_agents]
        self.docs = [Document(n) for n in names]
        self.counters = [0] * n_agents
        self.char_run: dict[str, tuple[int, int]] = {}  # char -> (run id, index)
        self.runs: list[str] = []
        self.touched: set[int] = set()  # runs deleted from or typed inside of
        self.inserted: list[str] = []
        self.deleted: set[str] = set()
        self.offline: set[int] = set()
        self.check_ref = check_reference_every_merge
        self.merges = 0
        self.log: list[str] = []

    # -- local edits -----------------------------------------------------------------

    def _chars(self, i: int, n: int) -> str:
        base, limit = ALPHABETS[i % len(ALPHABETS)]
        k = self.counters[i]
        self.counters[i] = k + n
        assert base + k + n <= limit
        return "".join(chr(base + k + j) for j in range(n))

    def _note_insert_at(self, text: str, pos: int) -> None:
        if pos > 0:
            r, idx = self.char_run[text[pos - 1]]
            if idx != len(self.runs[r]) - 1:
                self.touched.add(r)
        if pos < len(text):
            r, idx = self.char_run[text[pos]]
            if idx != 0:
                self.touched.add(r)

    def insert(self, i: int, pos_raw: int, n: int) -> None:
        d = self.docs[i]
        pos = pos_raw % (len(d) + 1)
        s = self._chars(i, n)
        self._note_insert_at(d.text, pos)
        rid = len(self.runs)
        self.runs.append(s)
        for j, c in enumerate(s):
            self.char_run[c] = (rid, j)
        self.inserted.extend(s)
        d.insert(pos, s)
        self.log.append(f"{d.agent}.insert({pos}, {s!r})")

    def insert_backwards(self, i: int, pos_raw: int, n: int) -> None:
        """Type n characters by inserting each at the same position."""
        d = self.docs[i]
        pos = pos_raw % (len(d) + 1)
        for _ in range(n):
            self.insert(i, pos, 1)

    def delete(self, i: int, pos_raw: int, len_raw: int, backspace: bool = False) -> None:
        d = self.docs[i]
        if not len(d):
            return
        pos = pos_raw % len(d)
        n = 1 + len_raw % min(12, len(d) - pos)
        gone = d.text[pos : pos + n]
        for c in gone:
            self.touched.add(self.char_run[c][0])
        self.deleted.update(gone)
        if backspace:
            for k in range(n - 1, -1, -1):
                d.delete(pos + k, 1)
            self.log.append(f"{d.agent}.backspace({pos}, {n})")
        else:
            d.delete(pos, n)
            self.log.append(f"{d.agent}.delete({pos}, {n})")
        assert d.text == "".join(c for c in d.text if c not in gone)

    # -- merging ---------------------------------------------------------------------

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
        elif method == 2:  # single-char ops, random causal order, some re-sent
            ops = [o for op in send.ops_since(common_version(recv, send)) for o in split_op(op)]
            cg = recv.oplog.cg
            order = causal_shuffle(ops, lambda a, q: cg.raw_to_lv(a, q) is not None, rng)
            # small batches for small deliveries; at most ~12 add_ops calls (each
            # call into a highly concurrent history re-walks it, see the report)
            k = 0
            chunk = max(1, len(order) // 12)
            while k < len(order):
                step = rng.randint(1, chunk if chunk > 1 else 4)
                batch = order[k : k + step]
                if k and rng.random() < 0.3:
                    batch = order[max(0, k - 2) : k] + batch  # duplicates
                recv.add_ops(batch)
                k += step
                if rng.random() < 0.2:
                    assert recv.text == str(checkout(recv.oplog).text)
        elif method == 3:  # only a causal prefix of what the sender has
            ops = send.ops_since(common_version(recv, send))
            recv.add_ops(ops[: rng.randint(0, len(ops))])
        else:  # the sender pulls too: a two-way sync
            recv.merge(send)
            send.merge(recv)
            self._check_after_merge(send)
        self.merges += 1
        self.log.append(f"{recv.agent} <- {send.agent} (method {method}, seed {seed})")
        self._check_after_merge(recv)

    def _check_after_merge(self, d: Document) -> None:
        if self.check_ref:
            assert_consistent(d)
        else:
            assert d.text == str(checkout(d.oplog).text)

    def set_offline(self, i: int, off: bool) -> None:
        if off:
            self.offline.add(i)
        else:
            self.offline.discard(i)

    # -- the end ---------------------------------------------------------------------

    def final_check(self, seed: int = 0) -> str:
        docs = self.docs
        rng = random.Random(seed)
        # an alternative delivery: a fresh observer gets every op as single-char
        # ops in a random causal order (with re-sent duplicates)
        all_ops: dict[tuple[str, int], Op] = {}
        for d in docs:
            for op in d.ops_since(()):
                for o in split_op(op):
                    all_ops[(o.agent, o.seq)] = o
        observer = Document("observer")
        order = causal_shuffle(list(all_ops.values()), lambda a, q: False, rng)
        k = 0
        chunk = max(2, len(order) // 10)
        while k < len(order):
            step = rng.randint(1, chunk)
            observer.add_ops(order[k : k + step])
            k += step
        # another: copies synced in a random pairwise order
        copies = [d.copy() for d in docs]
        idx = list(range(len(copies)))
        rng.shuffle(idx)
        for a, b in zip(idx, idx[1:]):
            copies[b].merge(copies[a])
        for a in idx[:-1]:
            copies[a].add_ops(copies[idx[-1]].ops_since(common_version(copies[a], copies[idx[-1]])))
        # the main order: everyone syncs with the first
        self.offline.clear()
        for d in docs[1:]:
            docs[0].merge(d)
        for d in docs[1:]:
            d.merge(docs[0])

        text = docs[0].text
        for d in docs + copies + [observer]:
            assert d.text == text, f"{d.agent}: {d.text!r} != {text!r}"
            assert d.version == docs[0].version
        assert_consistent(docs[0])
        assert_consistent(observer)

        # survivors: every char inserted and never deleted, exactly once
        counts = Counter(text)
        assert all(v == 1 for v in counts.values()), "a character appears twice"
        survivors = set(self.inserted) - self.deleted
        assert set(text) == survivors, (
            f"missing {sorted(survivors - set(text))[:10]!r}, extra {sorted(set(text) - survivors)[:10]!r}"
        )
        # non-interleaving: untouched runs are contiguous
        for rid, run in enumerate(self.runs):
            if rid not in self.touched and len(run) > 1:
                assert run in text, f"run {run!r} was split: {text!r}"
        return text
