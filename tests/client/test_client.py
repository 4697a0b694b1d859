"""The asyncio client against a live server: editing, observers, presence, undo, batching."""

from __future__ import annotations

import re
import httpx
import pytest

from cowrite.client import ClientClosed, Edit, Peer, State
from integration.harness import Proxy, ServerProcess, client, run, token, wait_until


def _ops_frames(srv: ServerProcess) -> float:
    metrics = httpx.get(f"{srv.http}/metrics", timeout=10, trust_env=False).text
    m = re.search(r'^cowrite_frames_total\{type="3"\} (\S+)$', metrics, re.M)
    return float(m.group(1)) if m else 0.0


def _replay(batches: list[list[Edit]]) -> str:
    text = ""
    for batch in batches:
        for kind, pos, arg in batch:
            if kind == 0:
                assert isinstance(arg, str)
                text = text[:pos] + arg + text[pos:]
            else:
                assert isinstance(arg, int)
                text = text[:pos] + text[pos + arg :]
    return text


def test_edits_observers_and_states(live_server: ServerProcess) -> None:
    srv, doc_id = live_server, "observed"
    srv.create_doc(doc_id)

    async def main() -> None:
        a = client(srv, doc_id, "ann")
        b = client(srv, doc_id, "ben")
        states: list[State] = []
        a.on_state(states.append)
        a.insert(0, "queued before start")  # edits work before start(); sent once joined
        remote_a: list[list[Edit]] = []
        remote_b: list[list[Edit]] = []
        a.on_change(remote_a.append)
        unsubscribe = b.on_change(remote_b.append)
        await a.start()
        await a.synced(10)
        assert states == ["syncing", "connected"]
        assert a.pending == 0 and a.acked_seq == len("queued before start")
        await b.start()
        await b.synced(10)
        assert b.text == "queued before start" and remote_b == [[(0, 0, "queued before start")]]

        a.delete(0, len("queued "))
        a.replace(0, 6, "sent")  # "before" -> "sent"
        await a.synced(10)
        await wait_until(lambda: b.text == "sent start", 10, "b to follow")
        assert _replay(remote_b) == b.text  # the edits describe exactly what changed
        assert any(e[0] == 1 for e in remote_b[-1])  # deletes are (1, pos, length)
        assert remote_a == []  # local edits are not reported as remote
        b.insert(len(b.text), "!")
        await wait_until(lambda: a.text == "sent start!", 10, "a to follow")
        assert remote_a == [[(0, 10, "!")]]
        unsubscribe()
        a.insert(0, ">")
        await wait_until(lambda: b.text == ">sent start!", 10, "b to follow")
        assert _replay(remote_b) == "sent start"  # b's own "!" is local; nothing after unsubscribing

        await a.close()
        assert states[-1] == "closed" and a.state == "closed"
        with pytest.raises(ClientClosed):
            await a.synced(1)
        with pytest.raises(ClientClosed):
            a.insert(0, "x")
        await b.close()

    run(main())


def test_undo_redo_only_touch_own_edits(live_server: ServerProcess) -> None:
    srv, doc_id = live_server, "undoable"
    srv.create_doc(doc_id)

    async def main() -> None:
        a = client(srv, doc_id, "ann")
        b = client(srv, doc_id, "ben")
        await a.start()
        await b.start()
        a.insert(0, "Hello world")
        await a.synced(10)
        await wait_until(lambda: b.text == "Hello world", 10, "b to see a's text")
        b.insert(5, ", dear")  # inside a's text
        await b.synced(10)
        await wait_until(lambda: a.text == "Hello, dear world", 10, "a to see b's text")
        assert a.undo() is not None  # a's typing goes; b's stays
        assert a.text == ", dear"
        assert a.undo() is None
        await wait_until(lambda: b.text == ", dear", 10, "b to see the undo")
        assert a.redo() is not None
        await a.synced(10)
        await wait_until(lambda: b.text == a.text == "Hello, dear world", 10, "redo everywhere")
        a.undo_manager.stop_capturing()  # type: ignore[union-attr]
        a.replace(0, 5, "Howdy")  # one step
        a.undo()
        assert a.text == "Hello, dear world"
        await a.synced(10)
        assert await srv.atext(doc_id) == "Hello, dear world"
        no_undo = client(srv, doc_id, "cy", undo=False)
        with pytest.raises(Exception, match="undo=False"):
            no_undo.undo()
        await a.close()
        await b.close()

    run(main())


def test_presence_names_colours_positions_and_gone(live_server: ServerProcess) -> None:
    srv, doc_id = live_server, "cursors"
    srv.create_doc(doc_id)

    async def main() -> None:
        a = client(srv, doc_id, "ann", colour="#e33")
        b = client(srv, doc_id, "ben", colour="#33e")
        seen_by_a: list[dict[str, Peer]] = []
        a.on_presence(seen_by_a.append)
        await a.start()
        a.insert(0, "hello world")
        await a.synced(10)
        await b.start()
        await b.synced(10)
        b.set_cursor(6, 11)  # selects "world"
        await wait_until(lambda: b.agent in a.presence and a.presence[b.agent].anchor == 6, 10, "a to see b")
        peer = a.presence[b.agent]
        assert (peer.user, peer.colour, peer.anchor, peer.head) == ("ben", "#33e", 6, 11)
        # Positions are stable: text typed before the selection moves it in every replica.
        a.insert(0, ">> ")
        assert a.presence[b.agent].anchor == 9 and a.presence[b.agent].head == 14
        await wait_until(lambda: b.cursor == (9, 14), 10, "b's own cursor to follow a's insert")
        # A cursor on characters b just typed: a resolves it once they have arrived.
        b.insert(0, "new ")
        b.set_cursor(2)
        await wait_until(lambda: a.presence.get(b.agent, peer).anchor == 2, 10, "a to resolve b's new cursor")
        assert b.agent not in b.presence  # only the others
        # A client that leaves is gone from the others' presence.
        await b.close()
        await wait_until(lambda: b.agent not in a.presence, 10, "b to be gone")
        assert seen_by_a[-1] == {}
        await a.close()

    run(main())


def test_bursts_are_coalesced_and_close_drains(live_server: ServerProcess) -> None:
    srv, doc_id = live_server, "bursty"
    srv.create_doc(doc_id)

    async def main() -> None:
        a = client(srv, doc_id, "ann", flush_interval=0.05)
        await a.start()
        await a.synced(10)
        before = _ops_frames(srv)
        for i in range(300):  # a paste-like burst: one keystroke at a time, no awaits
            a.insert(i, "x")
        await a.synced(10)
        assert _ops_frames(srv) - before <= 2
        a.insert(0, "last words ")
        await a.close()  # no synced(): close waits for the acknowledgement
        assert (await srv.atext(doc_id)).startswith("last words xxx")

    run(main())


def test_reconnects_after_a_network_cut_and_refreshes_its_token(live_server: ServerProcess) -> None:
    srv, doc_id = live_server, "flaky"
    srv.create_doc(doc_id)

    async def main() -> None:
        proxy = Proxy(srv.port)
        await proxy.start()
        calls: list[int] = []

        def fresh_token() -> str:
            calls.append(1)
            return token("ann", doc=doc_id)

        a = client(srv, doc_id, "ann", url=proxy.url, tok=fresh_token)
        states: list[State] = []
        a.on_state(states.append)
        await a.start()
        a.insert(0, "one ")
        await a.synced(10)
        for n in range(3):
            proxy.cut()
            await wait_until(lambda: a.state == "offline", 10, "a to notice the cut")
            a.insert(len(a.text), f"cut{n} ")
            proxy.restore()
            await a.synced(10)
        assert await srv.atext(doc_id) == "one cut0 cut1 cut2 "
        assert len(calls) >= 4  # a token per connection attempt
        assert states.count("connected") >= 4
        await a.close()
        await proxy.close()

    run(main())


def test_resync_replaces_the_replica_and_starts_a_fresh_undo_history(live_server: ServerProcess, tmp_path) -> None:
    """A replica with the wrong text (same ops and version, as a merge bug would leave it)
    is replaced by the server's on its first DIGEST; the user's edits survive, the text
    change reaches the observers, and undo keeps working on edits made afterwards."""
    from cowrite.client.storage import atomic_write, encode_state
    from cowrite.engine import Document
    from cowrite.engine import encode_document

    from integration.harness import seed

    srv, doc_id = live_server, "resynced"

    async def main() -> None:
        await seed(srv, doc_id, "one two three")
        probe = client(srv, doc_id, "dee", digest_interval=None)
        await probe.start()
        await wait_until(lambda: probe.text == "one two three", 10, "the probe to load")
        good = probe.doc
        bad = Document.decode(encode_document(good.oplog, "one TWO three", good.branch.version), "dee-2")
        await probe.close()
        path = tmp_path / "dee.cwc"
        atomic_write(path, encode_state(doc_id, bad))

        c = client(srv, doc_id, "dee", path=path, digest_delay=0.02)
        old_doc, old_undo = c.doc, c.undo_manager
        c.insert(0, "> ")  # typed on the wrong text, before connecting
        assert old_undo is not None and old_undo.can_undo
        edits: list[list[Edit]] = []
        c.on_change(edits.append)
        await c.start()
        await wait_until(lambda: c.resyncs == 1, 10, "the resync")
        await c.synced(10)
        assert c.text == await srv.atext(doc_id) == "> one two three"
        assert c.doc is not old_doc and c.doc.agent == "dee-2"
        assert _replay([[(0, 0, "> one TWO three")]] + edits) == c.text  # the text the user saw, then the fix
        undo = c.undo_manager
        assert undo is not None and undo is not old_undo and not undo.can_undo
        assert c.undo() is None  # the steps of the replaced replica are gone
        c.insert(len(c.text), "!")
        assert c.undo() is not None and c.text == "> one two three"
        await c.synced(10)
        assert await srv.atext(doc_id) == "> one two three"
        await c.close()

    run(main())
