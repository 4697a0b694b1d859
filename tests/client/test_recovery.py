"""No keystroke is ever dropped: the client against real servers that refuse its edits.

* a corrupted replica makes ops the server refuses (``bad_op``): the client takes a
  fresh copy of the server's document and types the user's edits again;
* rate limits and server failures (``rate_limited``, ``internal``): it reconnects and
  the summary exchange resends;
* frames: a paste larger than the frame budget goes out in several frames, and a
  server with a smaller frame limit makes the client halve its budget; edits the
  server cannot take at all (its document limit) stop the client, which keeps them;
* a revoked or forbidden session stops, and the unsent text stays readable and
  exportable (``Client.unsent``) and in the state file.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from cowrite.client import Notice
from cowrite.client.storage import read_state
from cowrite.errors import ErrorCode, FatalError
from cowrite.server.auth import issue_token
from integration.harness import Proxy, ServerProcess, client, run, seed, token, wait_until

BASE = "The quick brown fox jumps over the lazy dog."


def _frames(srv: ServerProcess, kind: int) -> float:
    metrics = httpx.get(f"{srv.http}/metrics", timeout=10, trust_env=False).text
    m = re.search(rf'^cowrite_frames_total\{{type="{kind}"\}} (\S+)$', metrics, re.M)
    return float(m.group(1)) if m else 0.0


def _errors(srv: ServerProcess, code: str) -> float:
    metrics = httpx.get(f"{srv.http}/metrics", timeout=10, trust_env=False).text
    m = re.search(rf'^cowrite_errors_total\{{code="{code}"\}} (\S+)$', metrics, re.M)
    return float(m.group(1)) if m else 0.0


def _server(tmp_path: Path, name: str, *limits: str) -> ServerProcess:
    args: list[str] = []
    for limit in limits:
        args += ["--limit", limit]
    srv = ServerProcess(tmp_path / f"{name}.db", args=tuple(args))
    srv.start()
    return srv


def test_corrupted_replica_is_replaced_and_every_keystroke_survives(live_server: ServerProcess) -> None:
    """The replica's text is corrupted behind the engine's back (its text no longer
    matches its op log), and the user keeps typing at the end before any divergence
    check: the ops land past the server's end, the server refuses them, and the
    client joins fresh and types everything again -- where the user typed it."""
    srv, doc_id = live_server, "corrupted-replica"

    async def main() -> None:
        await seed(srv, doc_id, BASE)
        c = client(srv, doc_id, "ann", digest_interval=None)
        notices: list[Notice] = []
        changes: list[object] = []
        c.on_notice(notices.append)
        await c.start()
        await c.synced(10)
        c.doc.branch.text.insert(0, "GARBAGE ")  # a corrupted replica
        c.on_change(changes.append)
        typed = ""
        rng = random.Random(7)
        for word in [" It", " was", " a", " sunny", " day."]:
            for ch in word:
                c.insert(len(c.text), ch)
                typed += ch
                await asyncio.sleep(rng.uniform(0, 0.01))
        # undo and redo edit through the journal too (no await: one undo history)
        assert c.undo_manager is not None
        c.undo_manager.stop_capturing()
        c.insert(len(c.text), " Oops")
        assert c.undo() is not None
        c.undo_manager.stop_capturing()
        c.insert(len(c.text), " And")
        c.undo()
        assert c.redo() is not None
        typed += " And"
        await wait_until(lambda: c.recoveries >= 1, 15, "the recovery")
        await c.synced(15)
        want = BASE + typed
        assert await srv.atext(doc_id) == want
        assert c.text == want and "GARBAGE" not in c.text
        assert c.unsent().empty and c.state == "connected"
        kinds = [n.kind for n in notices]
        assert "refused" in kinds and "recovered" in kinds
        assert any(n.code is ErrorCode.BAD_OP for n in notices)
        assert changes  # the garbage left the text the user sees through on_change
        # it goes on syncing: a second client sees the same, and new edits flow
        d = client(srv, doc_id, "ben")
        await d.start()
        await d.synced(10)
        assert d.text == want
        c.insert(0, ">> ")
        await c.synced(10)
        await wait_until(lambda: d.text == ">> " + want, 10, "ben to see the new edit")
        await c.close()
        await d.close()

    run(main())


def test_rate_limited_batches_are_resent_and_nothing_is_lost(tmp_path: Path) -> None:
    """A server that allows a handful of frames a second refuses most of a fast
    typist's batches (``rate_limited``, the frame dropped): the client backs off,
    reconnects and the summary exchange resends; every character arrives."""
    srv = _server(tmp_path, "rate", "messages_per_second=10", "message_burst=4")
    doc_id = "rate-limited"

    async def main() -> None:
        srv.create_doc(doc_id)
        c = client(srv, doc_id, "ann", flush_interval=0.0, digest_interval=None)
        notices: list[Notice] = []
        c.on_notice(notices.append)
        await c.start()
        await c.synced(10)
        typed = ""
        for i in range(120):
            ch = "abcdefghij"[i % 10]
            c.insert(len(c.text), ch)
            typed += ch
            await asyncio.sleep(0.002)
        await c.synced(30)
        assert c.text == typed == await srv.atext(doc_id)
        assert c.retries > 0 and _errors(srv, "rate_limited") > 0
        assert any(n.kind == "retrying" and n.code is ErrorCode.RATE_LIMITED for n in notices)
        assert c.recoveries == 0  # nothing was wrong with the ops
        await c.close()

    try:
        run(main(), timeout=90)
    finally:
        srv.kill()


def test_internal_refusals_are_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    """A server whose engine fails on a share of the batches (``ERROR internal`` for
    the batch, from ``tests/integration/faulty_server.py``): the client reconnects
    and resends; every character arrives."""
    faulty = Path(__file__).parents[1] / "integration" / "faulty_server.py"
    srv = ServerProcess(
        tmp_path / "faulty.db", command=(sys.executable, str(faulty)), env={"FAULT_SEED": "5", "FAULT_RATE": "0.3"}
    )
    srv.start()
    doc_id = "internal"

    async def main() -> None:
        await seed(srv, doc_id, BASE)
        c = client(srv, doc_id, "ann", digest_interval=None)
        notices: list[Notice] = []
        c.on_notice(notices.append)
        await c.start()
        await c.synced(20)
        typed = ""
        for i in range(40):
            c.insert(len(c.text), str(i % 10))
            typed += str(i % 10)
            await asyncio.sleep(0.01)
        await wait_until(lambda: c.retries > 0, 20, "an internal refusal")
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGUSR1)  # the fault goes
        await c.synced(30)
        assert c.text == BASE + typed == await srv.atext(doc_id)
        assert any(n.kind == "retrying" and n.code is ErrorCode.INTERNAL for n in notices)
        await c.close()

    try:
        run(main(), timeout=90)
    finally:
        srv.kill()


def test_a_paste_larger_than_the_frame_budget_goes_in_several_frames(live_server: ServerProcess) -> None:
    """3 MB pasted at once (random CJK text: still ~2 MB deflated) is more than the
    server's 1 MiB frame limit: the client cuts it into frames of its budget (256 KiB
    by default), each acknowledged."""
    srv, doc_id = live_server, "big-paste"

    async def main() -> None:
        await seed(srv, doc_id, BASE)
        c = client(srv, doc_id, "ann")
        await c.start()
        await c.synced(10)
        before = _frames(srv, 3)
        rng = random.Random(3)
        paste = "".join(chr(rng.randrange(0x4E00, 0x9FA0)) for _ in range(1_000_000)) + "😀 the end"
        assert len(paste.encode()) > 3_000_000
        c.insert(10, paste)
        await c.synced(60)
        assert await srv.atext(doc_id) == c.text == BASE[:10] + paste + BASE[10:]
        frames = _frames(srv, 3) - before
        assert 12 <= frames <= 16  # 3 MB in frames of at most 256 KiB
        assert c.retries == 0 and c.frame_budget == 256 * 1024
        await c.close()

    run(main(), timeout=120)


def test_a_server_with_a_small_frame_limit_makes_the_client_halve_its_budget(tmp_path: Path) -> None:
    srv = _server(tmp_path, "small-frames", "max_message_bytes=12000")
    doc_id = "small-frames"

    async def main() -> None:
        await seed(srv, doc_id, BASE)
        c = client(srv, doc_id, "ann", max_frame_bytes=65536)
        notices: list[Notice] = []
        c.on_notice(notices.append)
        await c.start()
        await c.synced(10)
        rng = random.Random(1)
        paste = "".join(chr(rng.randrange(0x4E00, 0x9FA0)) for _ in range(100_000))  # deflates to ~60%
        c.insert(len(c.text), paste)
        await c.synced(60)
        assert await srv.atext(doc_id) == c.text == BASE + paste
        # The server closes the socket on a frame over its limit (1009, message too big):
        # the budget went down by halves of the refused frames' sizes.
        assert c.frame_budget < 12000
        shrunk = [n for n in notices if n.kind == "shrunk"]
        assert shrunk and all(n.code is ErrorCode.TOO_LARGE for n in shrunk)
        await c.close()

    try:
        run(main(), timeout=90)
    finally:
        srv.kill()


def test_edits_the_server_cannot_take_stop_the_client_and_are_kept(tmp_path: Path) -> None:
    """A document at the server's size limit: even a one-keystroke batch is refused as
    too large.  The client stops (state ``error``) and keeps the edits: readable,
    exportable, in the state file."""
    srv = _server(tmp_path, "doc-limit", f"max_doc_chars={len(BASE) + 5}")
    doc_id = "doc-limit"
    path = tmp_path / "ann.cwc"

    async def main() -> None:
        await seed(srv, doc_id, BASE)
        c = client(srv, doc_id, "ann", path=path)
        notices: list[Notice] = []
        c.on_notice(notices.append)
        await c.start()
        await c.synced(10)
        c.insert(len(c.text), "1234")  # fits
        await c.synced(10)
        c.insert(len(c.text), " and more")
        await wait_until(lambda: c.state == "error", 15, "the client to stop")
        assert isinstance(c.error, FatalError) and c.error.code is ErrorCode.TOO_LARGE
        assert c.text == BASE + "1234 and more"
        unsent = c.unsent()
        assert unsent.inserted == " and more" and unsent.base == BASE + "1234" and unsent.text == c.text
        assert notices[-1].kind == "stopped"
        assert await srv.atext(doc_id) == BASE + "1234"
        with pytest.raises(FatalError):
            await c.synced(1)
        await c.close()
        stored = read_state(path)
        assert stored is not None and stored[1].text == BASE + "1234 and more"

    try:
        run(main())
    finally:
        srv.kill()


@pytest.mark.parametrize("why", ["revoked", "forbidden"])
def test_a_revoked_or_forbidden_session_stops_and_keeps_the_unsent_text(
    live_server: ServerProcess, tmp_path: Path, why: str
) -> None:
    """Offline edits, then the token stops working (revoked: ``unauthorized``; or it no
    longer grants the document: ``forbidden``).  The client stops; what it typed
    stays in ``client.text``, in ``client.unsent()`` and in the state file."""
    srv, doc_id = live_server, f"stopped-{why}"
    path = tmp_path / "ann.cwc"

    async def main() -> None:
        await seed(srv, doc_id, BASE)
        proxy = Proxy(srv.port)
        await proxy.start()
        good = token("ann", doc=doc_id)
        if why == "revoked":  # the server's secret was rotated: every old token is void
            bad = issue_token(b"another-secret-0123456789abcdef-0123456789", "ann", doc=doc_id)
        else:
            bad = token("ann", doc="another-doc")
        current = [good]
        c = client(srv, doc_id, "ann", url=proxy.url, tok=lambda: current[0], path=path)
        await c.start()
        await c.synced(10)
        proxy.cut()
        await wait_until(lambda: c.state == "offline", 10, "the client to notice the cut")
        c.insert(0, "Offline: ")
        c.insert(len(c.text), " (written on the train)")
        current[0] = bad
        proxy.restore()
        await wait_until(lambda: c.state == "error", 15, "the client to stop")
        code = ErrorCode.UNAUTHORIZED if why == "revoked" else ErrorCode.FORBIDDEN
        assert isinstance(c.error, FatalError) and c.error.code is code
        want = "Offline: " + BASE + " (written on the train)"
        assert c.text == want
        unsent = c.unsent()
        assert unsent.base == BASE and unsent.text == want
        assert unsent.inserted == "Offline:  (written on the train)"
        assert c.notices[-1].kind == "stopped" and "unsent" in c.notices[-1].message
        await c.close()
        stored = read_state(path)
        assert stored is not None and stored[1].text == want
        assert await srv.atext(doc_id) == BASE
        await proxy.close()

    run(main())


def test_a_restarted_client_types_its_stored_edits_again_when_its_history_is_refused(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    """A state file whose replica was made on a history the server never had (here: on
    top of another agent's ops it does not know): after a restart its ops are refused
    (``unknown_parent``), and the edits the file holds are typed again on the
    server's document.  The seq floor survives in the file."""
    from cowrite.client.storage import atomic_write, encode_state, load_state
    from cowrite.engine import Document

    srv, doc_id = live_server, "restarted"
    path = tmp_path / "ann.cwc"

    async def main() -> None:
        await seed(srv, doc_id, BASE)
        ghost = Document("ghost")
        ghost.insert(0, "a history the server never saw. ")
        replica = ghost.fork("ann-laptop")
        replica.insert(len(replica.text), "My offline words.")
        atomic_write(path, encode_state(doc_id, replica))
        c = client(srv, doc_id, "ann", path=path)
        assert c.unsent().inserted == "My offline words."  # journaled from the file
        notices: list[Notice] = []
        c.on_notice(notices.append)
        await c.start()
        await wait_until(lambda: c.recoveries == 1, 15, "the recovery")
        await c.synced(15)
        assert await srv.atext(doc_id) == c.text == BASE + "My offline words."
        assert any(n.kind == "refused" and n.code is ErrorCode.UNKNOWN_PARENT for n in notices)
        await c.close()
        stored = load_state(path)
        assert stored is not None and stored.doc.text == c.text
        assert stored.seq_floor >= len("My offline words.") and stored.acked_seq == stored.doc.oplog.cg.next_seq("ann-laptop")

    run(main())
