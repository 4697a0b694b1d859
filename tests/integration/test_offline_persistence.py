"""The client's state file: offline edits survive a client restart (and a client crash)
and reach the server once it is reachable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from cowrite.client.storage import read_state
from cowrite.store import SQLiteStore

from .harness import ServerProcess, client, run, token


def test_offline_edits_survive_a_client_restart(server: ServerProcess, tmp_path: Path) -> None:
    srv, doc_id = server, "journal"
    srv.create_doc(doc_id)
    srv.stop()  # the server is down for the whole first session
    state = tmp_path / "journal.cwc"

    async def main() -> None:
        first = client(srv, doc_id, "writer", path=state)
        await first.start()
        first.insert(0, "Written offline.")
        first.insert(0, "Draft: ")
        first.delete(0, len("Draft: "))
        first.insert(len(first.text), " Still offline.")
        assert first.state == "offline"
        agent = first.agent
        await first.close()

        second = client(srv, doc_id, "writer", path=state)
        assert second.agent == agent  # the same agent: the server ties it to this user
        assert second.text == "Written offline. Still offline."
        await second.start()
        second.insert(len(second.text), " Restarted.")
        second.undo()  # undo is local history: only this session's edits
        second.insert(len(second.text), " Back.")
        srv.start()
        await second.synced(15)
        want = "Written offline. Still offline. Back."
        assert second.text == want == await srv.atext(doc_id)
        other = client(srv, doc_id, "reader")
        await other.start()
        await other.synced(10)
        assert other.text == want
        await other.close()
        await second.close()

    run(main())


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from cowrite.client import Client, ClientSettings

    async def main():
        url, doc_id, tok, path = sys.argv[1:5]
        c = Client(url, doc_id, tok, path=path, settings=ClientSettings(
            flush_interval=0.005, save_delay=0.5, backoff_base=0.02, backoff_cap=0.2))
        await c.start()
        i = 0
        while True:
            c.insert(len(c.text), "abcdefghijklmnopqrstuvwxyz"[i % 26])
            i += 1
            print(f"{i} {c.acked_seq}", flush=True)
            await asyncio.sleep(0.002)

    asyncio.run(main())
    """
)


def test_client_killed_mid_stream_restarts_on_its_state_file(server: ServerProcess, tmp_path: Path) -> None:
    """A client process typing against the server is SIGKILLed.  The server must not hold
    any op of its agent that its state file lacks (ops are written before they are sent),
    so a client restarted on that file, with the same agent, goes on without a conflict."""
    srv, doc_id = server, "crashy"
    srv.create_doc(doc_id)
    state = tmp_path / "crashy.cwc"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    tok = token("crashy-user", doc=doc_id)
    child = subprocess.Popen(
        [sys.executable, str(script), srv.url, doc_id, tok, str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:  # until a good share is acknowledged, while it keeps typing
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit() and int(parts[1]) >= 60:
                break
        else:
            raise AssertionError("the child client stopped early")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()

    loaded = read_state(state)
    assert loaded is not None
    _, saved = loaded
    agent = saved.agent
    store = SQLiteStore(srv.db)
    try:
        on_server = store.load(doc_id).summary().get(agent, [])
    finally:
        store.close()
    saved_end = saved.oplog.cg.next_seq(agent)
    assert on_server and on_server[0][0] == 0
    assert on_server[-1][1] <= saved_end, f"the server has ops of {agent} up to {on_server[-1][1]}, the file to {saved_end}"

    async def main() -> None:
        again = client(srv, doc_id, "crashy-user", path=state)
        assert again.agent == agent
        await again.start()
        again.insert(len(again.text), "|restarted")
        await again.synced(15)
        assert again.state == "connected" and again.error is None
        text = await srv.atext(doc_id)
        assert text == again.text and text.endswith("|restarted")
        assert len(text) == saved_end + len("|restarted")  # everything in the file arrived
        await again.close()

    run(main())
