"""The room stores and relays a batch's own patch bytes when what it accepted is exactly
what came (all ops new, in causal order, parents as the log stores them); otherwise it
re-encodes what the log gained.  Either way the stored/relayed patch must carry exactly
the new ops: nothing already known, nothing missing.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.engine import Document, Op, codec as encoding
from cowrite.protocol import Ops, RemoteOps, Role, Room, decode_frame, encode_frame
from cowrite.protocol.client import ClientSession
from cowrite.protocol.server import Pending, ServerSession


class World:
    def __init__(self, n: int = 3) -> None:
        self.room = Room("d", Document("server"))
        self.shadow = Document("shadow")  # gets every stored patch, nothing else
        clock = random.Random(n)  # times change now and then: ops get cut where they do
        self.docs = [Document(f"c{i}", clock=lambda: 1_700_000_000 + clock.randrange(3)) for i in range(n)]
        self.sessions: list[ServerSession] = []
        self.batch = 0
        self.reused = 0
        self.reencoded = 0
        for d in self.docs:
            join = ClientSession(d, "d").data_to_send()[0]
            s, _ = self.room.join(join, user=d.agent, role=Role.EDITOR)
            self.sessions.append(s)

    def submit(self, i: int, ops: list[Op]) -> Pending:
        self.batch += 1
        patch = encoding.encode_patch(ops)
        pending = self.room.submit(self.sessions[i], encode_frame(Ops(self.batch, patch)))
        cg = self.shadow.oplog.cg
        if pending.to_persist:
            assert encoding.decode_patch(pending.patch) == pending.to_persist
            # nothing already stored is stored (or relayed) again ...
            for op in pending.to_persist:
                assert cg.known_run(op.agent, op.seq) is None
                assert cg.next_known_seq(op.agent, op.seq) is None or cg.next_known_seq(op.agent, op.seq) >= op.seq + op.span  # type: ignore[operator]
            if pending.patch is patch or pending.patch == patch:
                self.reused += 1
            else:
                self.reencoded += 1
        else:
            assert pending.patch == b""
        sends = pending.commit()
        relayed = [decode_frame(s.data) for s in sends if s.session is not self.sessions[i]]
        if pending.to_persist:
            assert relayed and all(isinstance(m, RemoteOps) and m.patch == pending.patch for m in relayed)
            self.shadow.apply_patch(pending.patch)
        else:
            assert not relayed
        # ... and everything the room gained is stored
        assert self.shadow.ops_since(()) == self.room.doc.ops_since(())
        assert self.shadow.text == self.room.doc.text
        return pending


def test_a_keystroke_is_stored_and_relayed_as_sent() -> None:
    w = World(2)
    d = w.docs[0]
    d.insert(0, "h")
    p = w.submit(0, d.ops_since(()))
    assert w.reused == 1
    frame = encode_frame(Ops(99, d.encode_patch(())))
    assert p.to_persist == d.ops_since(())
    # the same batch again (a retry): nothing new, nothing stored or relayed
    pending = w.room.submit(w.sessions[0], frame)
    assert not pending.to_persist and pending.patch == b""
    pending.commit()


def test_partly_known_batch_is_reencoded_with_only_the_new_ops() -> None:
    w = World(2)
    d = w.docs[0]
    d.insert(0, "ab")
    w.submit(0, d.ops_since(()))
    v = d.version
    d.insert(2, "cd")
    p = w.submit(0, d.ops_since(()))  # "ab" again (known) + "cd" (new)
    assert w.reencoded == 1
    assert p.to_persist == d.ops_since(v)
    # a run that is half known: its known prefix is not stored again
    d.insert(4, "e")
    merged = Op.insert("c0", 0, (), 0, d.text)
    p = w.submit(0, [merged])
    assert [(o.seq, o.content) for o in p.to_persist] == [(4, "e")]
    assert w.reencoded == 2


def test_out_of_order_and_redundant_parent_batches_are_reencoded() -> None:
    w = World(2)
    a = w.docs[0]
    a.insert(0, "x")
    v = a.version
    a.insert(1, "y")
    a.insert(0, "z")
    ops = a.ops_since(())
    assert len(ops) >= 2
    p = w.submit(0, list(reversed(ops)))  # parents come later in the batch
    assert w.reencoded == 1 and w.reused == 0
    assert [o.seq for o in p.to_persist] == sorted(o.seq for o in p.to_persist)
    # a redundant parent: an ancestor named beside its descendant
    a.insert(0, "w")
    last = a.ops_since(a.ops_since(())[-1].parents)[-1]
    top = last.parents[0]
    extra = Op.insert(last.agent, last.seq, (top, ("c0", 0)), last.pos, last.content, time=last.time)
    p = w.submit(0, [extra])
    assert w.reencoded == 2
    assert p.to_persist[0].parents == (top,)
    assert p.to_persist == a.ops_since(v)[-1:]


def test_concurrent_ops_with_two_parents_are_relayed_as_sent() -> None:
    w = World(2)
    a, b = w.docs
    a.insert(0, "a")
    w.submit(0, a.ops_since(()))
    b.insert(0, "b")
    w.submit(1, b.ops_since(()))
    a.merge(w.room.doc)
    v = a.version
    assert len(v) == 2
    a.insert(1, "!")
    w.submit(0, a.ops_since(v))
    assert w.reused == 3 and w.reencoded == 0


action = st.tuples(st.integers(0, 2), st.integers(0, 5), st.floats(0, 1), st.integers(0, 3))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=50))
def test_stored_patches_carry_exactly_what_the_room_gained(actions: list[tuple[int, int, float, int]]) -> None:
    w = World(3)
    versions: list[list[tuple[tuple[str, int], ...]]] = [[()] for _ in w.docs]
    for i, kind, x, k in actions:
        d = w.docs[i]
        me = d.agent
        if kind <= 1:  # type or delete, then maybe send it
            if kind == 1 and len(d):
                d.delete(int(x * (len(d) - 1)), 1)
            else:
                d.insert(int(x * len(d)), "xyz"[k % 3] * (1 + k % 2))
            versions[i].append(d.version)
        elif kind == 2:  # receive what the room has
            d.merge(w.room.doc)
            versions[i].append(d.version)
        else:  # send own ops since some earlier version: some known, some not, maybe shuffled
            since = versions[i][int(x * len(versions[i])) % len(versions[i])]
            ops = [op for op in d.ops_since(since) if op.agent == me]
            if not ops:
                continue
            if kind == 4:
                random.Random(k).shuffle(ops)
            elif kind == 5 and k == 3:
                ops = ops + ops[:1]  # a duplicate inside the batch
            w.submit(i, ops)
    for i, d in enumerate(w.docs):
        ops = [op for op in d.ops_since(()) if op.agent == d.agent]
        if ops:
            w.submit(i, ops)
    for d in w.docs:
        d.merge(w.room.doc)
    assert len({d.text for d in w.docs} | {w.room.doc.text, w.shadow.text}) == 1


def test_both_paths_are_exercised_by_the_property_test_actions() -> None:
    w = World(2)
    a, b = w.docs
    for _ in range(20):
        a.insert(len(a), "a")
        w.submit(0, [a.ops_since(())[-1]] if len(a.ops_since(())) == 1 else a.ops_since(w.room.doc.version))
    assert w.reused >= 1
    b.insert(0, "b")
    w.submit(1, b.ops_since(()) + b.ops_since(()))  # a duplicate: re-encoded
    assert w.reencoded >= 1


@pytest.mark.parametrize("n", [1, 3])
def test_relayed_bytes_apply_like_the_room(n: int) -> None:
    w = World(n + 1)
    for i in range(n):
        w.docs[i].insert(0, f"{i}")
        w.submit(i, w.docs[i].ops_since(()))
    last = w.docs[n]
    last.apply_patch(w.shadow.encode_patch())
    assert last.text == w.room.doc.text
