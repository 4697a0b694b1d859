"""Divergence detection through a real server: a replica whose text is wrong is found by
its DIGEST, replaced by the server's document (RESYNC), counted and logged."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from cowrite.client.storage import atomic_write, encode_state, read_state
from cowrite.engine import Document
from cowrite.engine import encode_document

from .harness import ServerProcess, client, run, seed, wait_until


def _metric(srv: ServerProcess, pattern: str) -> float:
    text = httpx.get(f"{srv.http}/metrics", timeout=10, trust_env=False).text
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


def _divergences(srv: ServerProcess) -> float:
    return _metric(srv, r"^cowrite_divergences_total (\S+)$")


def _digest_frames(srv: ServerProcess) -> float:
    return _metric(srv, r'^cowrite_frames_total\{type="10"\} (\S+)$')


def _corrupted(good: Document, text: str, agent: str) -> Document:
    """``good``'s op log and version with another text of the same length (as a merge
    bug would leave it), built from document bytes."""
    doc = Document.decode(encode_document(good.oplog, text, good.branch.version), agent)
    assert doc.version == good.version and doc.text == text != good.text
    return doc


def test_a_corrupted_replica_is_resynced_counted_and_logged(server: ServerProcess, tmp_path: Path) -> None:
    srv, doc_id = server, "diverged"

    async def main() -> None:
        await seed(srv, doc_id, "hello world")
        probe = client(srv, doc_id, "ann", digest_interval=None)
        await probe.start()
        await wait_until(lambda: probe.text == "hello world", 15, "the probe to load")
        good = probe.doc.copy()
        await probe.close()

        path = tmp_path / "ann.cwc"
        atomic_write(path, encode_state(doc_id, _corrupted(good, "jello world", "ann-laptop")))
        before = _divergences(srv)
        c = client(srv, doc_id, "ann", path=path, digest_delay=0.05)
        assert c.text == "jello world" and c.agent == "ann-laptop"
        seen: list[str] = []
        c.on_change(lambda edits: seen.append(c.text))
        c.insert(len(c.text), "!")  # an offline edit, made on the wrong text
        await c.start()
        await wait_until(lambda: c.resyncs == 1, 15, "the resync")
        await c.synced(15)
        assert c.text == await srv.atext(doc_id) == "hello world!"  # the edit survived
        assert seen and seen[-1] == "hello world!"  # observers saw the text change
        assert _divergences(srv) == before + 1
        assert re.search(r"WARNING .*divergence in 'diverged': agent 'ann-laptop'", srv.log_text())
        await c.close()
        loaded = read_state(path)
        assert loaded is not None and loaded[1].text == "hello world!"  # the file was rewritten

        # A healthy replica checks itself too, and nothing happens.
        frames = _digest_frames(srv)
        d = client(srv, doc_id, "ben", digest_delay=0.05, digest_interval=0.1)
        await d.start()
        await d.synced(15)
        await wait_until(lambda: _digest_frames(srv) >= frames + 2, 15, "two digests")
        assert d.resyncs == 0 and _divergences(srv) == before + 1
        await d.close()

    run(main())
