"""The JS engine reads the head-first documents the Python engine writes.

``Document.encode`` (Python) writes the head-first layout (``codec/head.py``); the
server sends those bytes to the browser (the snapshot endpoint, a fresh join's
``WELCOME``, ``RESYNC``), whose ``Document.decode`` (web/src/engine) must read them:
same text, version, ops and re-encoding (the JS writer keeps the classic layout,
which Python reads).  Forged histories under a valid checksum are refused by both.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
from typing import Any

from cowrite.engine import Document, decode_document

from .node import WEB, node_or_skip

SCRIPT = r"""
import { readFileSync } from 'node:fs';
import { Document } from './src/engine/index.js';
const cases = JSON.parse(readFileSync(0, 'utf8'));
const out = cases.map((b64) => {
  try {
    const d = Document.decode(new Uint8Array(Buffer.from(b64, 'base64')), 'js');
    const ops = d.opsSince([]).map((o) => [o.agent, o.seq, o.parents, o.kind, o.pos, o.content ?? '', o.length ?? 0]);
    return { text: d.text, version: d.version(), ops, reencoded: Buffer.from(d.encode()).toString('base64') };
  } catch (err) {
    return { error: err.constructor.name, message: err.message };
  }
});
process.stdout.write(JSON.stringify(out));
"""


def _js_decode(blobs: list[bytes]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [node_or_skip(), "--input-type=module", "-e", SCRIPT],
        cwd=WEB,
        input=json.dumps([base64.b64encode(b).decode() for b in blobs]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def _session(seed: int) -> Document:
    rnd = random.Random(seed)
    docs = [Document(name, clock=lambda: 1_700_000_000.0) for name in ("alice", "bob", "🐙zoë")]
    for _ in range(rnd.randint(1, 120)):
        d = rnd.choice(docs)
        r = rnd.random()
        if r < 0.6:
            d.insert(rnd.randint(0, len(d)), rnd.choice(["a", "bc", "héllo ", "👋", "\n", "word " * rnd.randint(1, 30)]))
        elif r < 0.85 and len(d):
            pos = rnd.randrange(len(d))
            d.delete(pos, rnd.randint(1, min(8, len(d) - pos)))
        else:
            rnd.choice(docs).merge(d)
    return rnd.choice(docs)


def test_js_reads_python_head_first_documents() -> None:
    docs = [Document("empty"), *(_session(seed) for seed in range(40))]
    blobs = [d.encode() for d in docs]
    assert any(b[4] & 1 for b in blobs) and any(not b[4] & 1 for b in blobs)  # deflated and plain
    for d, blob, js in zip(docs, blobs, _js_decode(blobs)):
        assert "error" not in js, js
        assert js["text"] == d.text
        assert [tuple(v) for v in js["version"]] == list(d.version)
        assert len(js["ops"]) == len(d.ops_since(()))
        # the JS writer's classic bytes decode, in Python, to the same document
        oplog, text, version = decode_document(base64.b64decode(js["reencoded"]))
        assert text == d.text and oplog.cg.frontier_to_raw(version) == d.version
        assert [(o.agent, o.seq, o.kind, o.pos, o.content) for o in oplog.ops_since(())] == [
            (o.agent, o.seq, o.kind, o.pos, o.content) for o in d.ops_since(())
        ]


def test_js_refuses_what_python_refuses_in_a_forged_history() -> None:
    """A history byte changed under a fixed-up CRC: whenever Python's full decode
    refuses it, the JS reader (which always decodes in full) refuses it too."""
    from zlib import crc32, decompress

    rnd = random.Random(5)
    base = _session(7).encode()
    if base[4] & 1:
        i = 5
        while base[i] & 0x80:  # the inflated size's varint
            i += 1
        body = bytearray(decompress(base[i + 1 : -4]))
    else:
        body = bytearray(base[5:-4])
    forged: list[bytes] = []
    while len(forged) < 60:
        b = bytearray(body)
        b[rnd.randrange(40, len(b))] = rnd.randrange(256)
        frame = b"CWD\x02\x00" + bytes(b)
        frame += crc32(frame).to_bytes(4, "little")
        try:
            Document.decode(frame, "x")
        except Exception:  # noqa: BLE001 - any refusal; the type is checked below
            forged.append(frame)
    for blob, js in zip(forged, _js_decode(forged)):
        try:
            Document.decode(blob, "x")
        except Exception as exc:  # noqa: BLE001
            assert type(exc).__name__ in ("DecodeError", "TruncatedError"), exc
        assert js.get("error") in ("DecodeError", "TruncatedError"), js
