"""Shared test vectors: what the Python engine says, for the JavaScript port to match.

The browser runs a JS port of the codecs and of the merge.  Both test suites read
the same JSON files in ``testdata/vectors`` (written by ``python tools/vectors.py``), so the
port is checked against the Python engine, the spec, on every run:

* ``encoding.json``: patches and documents (bytes and what they decode to, and the
  bytes they re-encode to), including the frozen v1/v2 fixtures, ops the encoder
  must refuse, and invalid bytes with the error class they raise; plus seeded
  mutants (random damage with a repaired checksum) that decode or fail alike.
* ``positions.json``: valid and invalid CWC position bytes.
* ``frames.json``: protocol frames of every message type, valid and invalid.
* ``merge.json``: seeded concurrent histories made with the Python engine:
  patches in delivery order with the text (and edits) after each, and loads from a
  snapshot made mid-history.
* ``positions_resolve.json``: stable positions taken on a snapshot and resolved
  after the rest of a history arrived.

Everything is deterministic (fixed seeds, a fake clock, sorted keys), so
regenerating must give identical files; ``tests/test_vectors.py`` checks that and
reads every vector back.  Bytes are base64.  Errors are named by class:
``DecodeError`` / ``InvalidOpError`` (engine) and ``ProtocolError`` (frames, with
the ``ErrorCode`` number).
"""

from __future__ import annotations

import base64
import json
import random
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cowrite.engine import Document, Op, Position, decode_document, decode_patch, encode_document, encode_patch
from cowrite.errors import DecodeError, ErrorCode, InvalidOpError, ProtocolError, UnknownParentError
from cowrite.protocol.messages import (
    Ack,
    Comments,
    Digest,
    Error,
    Join,
    Message,
    Ops,
    Ping,
    Pong,
    Presence,
    RemoteOps,
    Resync,
    Suggestions,
    Role,
    Welcome,
    decode_frame,
    encode_frame,
    text_digest,
)

__all__ = [
    "FILES",
    "b64",
    "build_vectors",
    "msg_from_json",
    "msg_to_json",
    "op_from_json",
    "op_to_json",
    "unb64",
    "write_vectors",
]

FILES = ("encoding.json", "positions.json", "frames.json", "merge.json", "positions_resolve.json")
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "testdata" / "vectors"
FIXTURES = Path(__file__).resolve().parents[1] / "testdata" / "fixtures"
MAX_SAFE = 2**53 - 1  # the largest integer a JS number holds exactly


# -- small helpers -------------------------------------------------------------------



def _classic(d: Document) -> bytes:
    """``d`` in the classic document layout, which the vectors pin (``encode_document``);
    ``Document.encode`` writes the head-first layout, tested apart (tests/engine/codec)."""
    return encode_document(d.oplog, d.text, d.branch.version)

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def op_to_json(op: Op) -> dict[str, Any]:
    return {
        "agent": op.agent,
        "seq": op.seq,
        "parents": [[a, s] for a, s in op.parents],
        "kind": op.kind,
        "pos": op.pos,
        "content": op.content,
        "length": op.length,
        "fwd": op.fwd,
        "time": op.time,
    }


def op_from_json(d: dict[str, Any]) -> Op:
    return Op(
        d["agent"],
        d["seq"],
        tuple(tuple(p) for p in d["parents"]),
        d["kind"],
        d["pos"],
        d.get("content", ""),
        d.get("length", 0),
        d.get("fwd", True),
        d.get("time", 0),
    )


def _version(v: Sequence[tuple[str, int]]) -> list[list[Any]]:
    return [[a, s] for a, s in v]


def _summary(s: dict[str, list[tuple[int, int]]]) -> dict[str, list[list[int]]]:
    return {a: [[x, y] for x, y in runs] for a, runs in s.items()}


def _xf(xf: Sequence[tuple[int, int, str | int]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, pos, arg in xf:
        if kind == 0:
            out.append({"kind": "ins", "pos": pos, "text": arg})
        else:
            out.append({"kind": "del", "pos": pos, "length": arg})
    return out


class _Clock:
    """A fake clock: the same seconds for a while, then a jump (times make runs)."""

    def __init__(self, rng: random.Random, start: int) -> None:
        self.rng = rng
        self.now = start

    def __call__(self) -> float:
        r = self.rng.random()
        if r < 0.15:
            self.now += self.rng.randint(1, 5)
        elif r < 0.18:
            self.now += self.rng.randint(60, 90_000)
        return float(self.now)


def _uvar(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _svar(v: int) -> bytes:
    return _uvar((v << 1) if v >= 0 else ((-v << 1) - 1))


def _blk(data: bytes) -> bytes:
    return _uvar(len(data)) + data


def _crc(data: bytes) -> bytes:
    return data + zlib.crc32(data).to_bytes(4, "little")


def _framed(magic: bytes, body: bytes, *, version: int = 2, flags: int = 0, raw_len: int | None = None) -> bytes:
    """Hand-made framing (with a correct CRC), so a test can put anything in a body."""
    head = magic + bytes((version, flags))
    if raw_len is not None:
        head += _uvar(raw_len)
    return _crc(head + body)


def _dump(obj: Any) -> bytes:
    """Stable JSON: sorted keys, ASCII only (lone surrogates survive), compact (size)."""
    return (json.dumps(obj, sort_keys=True, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


# -- random editing --------------------------------------------------------------------

_WORDS = ["a", "b", "the ", "cat", " ", "x", "é", "日本", "👋🏽", "🐙", "ñ", "\u200d", "e\u0301", "\n", "Ω", "𝔘"]


def _random_text(rng: random.Random, max_words: int = 4) -> str:
    return "".join(rng.choice(_WORDS) for _ in range(rng.randint(1, max_words)))


def _random_edit(rng: random.Random, doc: Document) -> None:
    """One local edit: typing (sometimes char by char), a range delete, Backspace or Delete runs."""
    n = len(doc)
    r = rng.random()
    if n == 0 or r < 0.5:
        pos = rng.randint(0, n)
        text = _random_text(rng)
        if rng.random() < 0.4:
            for i, ch in enumerate(text):  # typed one character at a time
                doc.insert(pos + i, ch)
        else:
            doc.insert(pos, text)
    elif r < 0.7:
        pos = rng.randrange(n)
        doc.delete(pos, rng.randint(1, min(6, n - pos)))
    elif r < 0.85:
        pos = rng.randint(1, n)
        for _ in range(rng.randint(1, min(5, pos))):  # Backspace held down
            pos -= 1
            doc.delete(pos, 1)
    else:
        pos = rng.randrange(n)
        for _ in range(rng.randint(1, min(5, n - pos))):  # Delete key held down
            doc.delete(pos, 1)


def _history(seed: int, n_agents: int, n_events: int, *, offline: bool) -> dict[str, Any]:
    """Agents editing concurrently, syncing among themselves now and then; an
    observer receives patches of what it lacks from one agent at a time."""
    rng = random.Random(seed)
    clock = _Clock(rng, 1_700_000_000 + 1000 * seed)
    names = ["alice", "bob", "carol", "zoë", "🐙", "\uff21gent", "dave"][:n_agents]
    docs = [Document(name, clock=clock) for name in names]
    observer = Document("observer", clock=clock)
    away = rng.randrange(n_agents) if offline else -1  # this one goes offline for a while
    away_from, away_to = n_events // 4, (3 * n_events) // 4
    steps: list[dict[str, Any]] = []
    sent: list[bytes] = []
    snapshots: list[tuple[int, bytes]] = []

    def online(i: int, t: int) -> bool:
        return i != away or not away_from <= t < away_to

    def deliver(patch: bytes) -> None:
        xf = observer.apply_patch(patch)
        sent.append(patch)
        steps.append(
            {
                "patch": b64(patch),
                "text": observer.text,
                "version": _version(observer.version),
                "xf": _xf(xf),
            }
        )

    def flush(i: int) -> None:
        ops = docs[i].ops_missing_from(observer.summary())
        if ops:
            deliver(encode_patch(ops))

    for t in range(n_events):
        r = rng.random()
        i = rng.randrange(n_agents)
        if t in (n_events // 3, (2 * n_events) // 3):
            snapshots.append((len(steps), _classic(observer)))
        if r < 0.55:
            for _ in range(rng.randint(1, 3)):
                _random_edit(rng, docs[i])
        elif r < 0.65:
            # a race: two agents in the same state edit the same spot
            j = rng.randrange(n_agents)
            if j != i and online(i, t) and online(j, t):
                docs[i].merge(docs[j])
                docs[j].merge(docs[i])
                if len(docs[i]):
                    pos = rng.randint(0, len(docs[i]))
                    docs[i].insert(pos, _random_text(rng, 2))
                    if rng.random() < 0.5 or pos == len(docs[j]):
                        docs[j].insert(pos, _random_text(rng, 2))
                    else:  # delete racing the insert
                        docs[j].delete(max(0, pos - 1), min(2, len(docs[j]) - max(0, pos - 1)))
                else:
                    docs[i].insert(0, _random_text(rng, 2))
                    docs[j].insert(0, _random_text(rng, 2))
        elif r < 0.8:
            j = rng.randrange(n_agents)
            if j != i and online(i, t) and online(j, t):
                docs[i].merge(docs[j])
        elif r < 0.95:
            if online(i, t):
                flush(i)
        elif sent:
            if rng.random() < 0.5:
                deliver(rng.choice(sent))  # a duplicate: known ops are ignored
            elif online(i, t) and docs[i].version:
                # a patch that overlaps what the observer has (ops since an older version)
                ops = docs[i].ops_since(())
                patch = encode_patch(ops[rng.randrange(len(ops)) :])
                try:
                    observer.copy().apply_patch(patch)
                except UnknownParentError:  # it lacks earlier ops too: send them all
                    patch = encode_patch(ops)
                deliver(patch)
    for i in range(n_agents):  # everyone comes back and syncs
        flush(i)
    final = observer.text
    for d in docs:
        for e in docs:
            if d is not e:
                d.merge(e)
    for d in docs:
        assert d.text == final, "replicas diverged while making vectors"
    loads = []
    for k, data in snapshots:
        snap = Document.decode(data, "loader")
        loads.append(
            {
                "document": b64(data),
                "text": snap.text,
                "version": _version(snap.version),
                "from_step": k,
                "patches": [s["patch"] for s in steps[k:]],
            }
        )
    return {
        "seed": seed,
        "agents": names,
        "offline": names[away] if offline else None,
        "steps": steps,
        "loads": loads,
        "text": final,
        "version": _version(observer.version),
        "summary": _summary(observer.summary()),
    }


def _merge_vectors() -> dict[str, Any]:
    histories = []
    for k in range(40):
        n_agents = 2 + k % 4
        n_events = 20 + (k * 37) % 120
        histories.append(_history(1000 + k, n_agents, n_events, offline=k % 3 == 0))
    return {
        "about": (
            "Seeded concurrent histories made with the Python engine.  Apply each history's steps' "
            "patches in order to an empty document: after each, the text, version and the edits "
            "applied (xf, code points) must be as recorded.  Each load decodes a CWD snapshot taken "
            "before step from_step (text and version as recorded), then applies patches, the patches "
            "of steps[from_step:]; the text after each must be that step's text."
        ),
        "histories": histories,
    }


def _positions_resolve_vectors() -> dict[str, Any]:
    out = []
    for k in range(6):
        h = _history(5000 + k, 3 + k % 2, 80 + 20 * k, offline=k % 2 == 1)
        steps = h["steps"]
        load = h["loads"][0]
        doc = Document.decode(unb64(load["document"]), "resolver")
        rng = random.Random(7000 + k)
        n = len(doc)
        indices = sorted({0, n, *(rng.randint(0, n) for _ in range(14))})
        made = []
        for index in indices:
            for assoc in (1, -1):
                made.append((index, assoc, doc.position(index, assoc)))
        for step in steps[load["from_step"] :]:
            doc.apply_patch(unb64(step["patch"]))
        assert doc.text == h["text"]
        cases = [
            {
                "index": index,
                "assoc": assoc,
                "position": b64(p.encode()),
                "json": p.to_json(),
                "resolved_at_end": doc.resolve(p),
            }
            for index, assoc, p in made
        ]
        out.append(
            {
                "document": load["document"],
                "text": load["text"],
                "patches": [s["patch"] for s in steps[load["from_step"] :]],
                "final_text": doc.text,
                "cases": cases,
            }
        )
    return {
        "about": (
            "Decode document, take position(index, assoc) for each case (its CWC bytes must be "
            "position), apply patches in order, then resolve(position) must be resolved_at_end."
        ),
        "histories": out,
    }


# -- encoding vectors ------------------------------------------------------------------


def _patch_entry(name: str, data: bytes) -> dict[str, Any]:
    ops = decode_patch(data)
    return {"name": name, "bytes": b64(data), "ops": [op_to_json(o) for o in ops], "reencoded": b64(encode_patch(ops))}


def _document_entry(name: str, data: bytes) -> dict[str, Any]:
    oplog, text, version = decode_document(data)
    cg = oplog.cg
    return {
        "name": name,
        "bytes": b64(data),
        "text": text,
        "version": _version(cg.frontier_to_raw(version)),
        "heads": _version(cg.frontier_to_raw(cg.heads)),
        "ops": [op_to_json(o) for o in oplog.ops_since(())],
        "reencoded": b64(encode_document(oplog, text, version)),
    }


def _fixed_clock(t: int) -> Callable[[], float]:
    return lambda: float(t)


def _sample_documents() -> list[tuple[str, Document]]:
    """Hand-made documents covering the op kinds, merges and times."""
    out: list[tuple[str, Document]] = []
    out.append(("empty", Document("alice", clock=_fixed_clock(0))))

    d = Document("alice", clock=_fixed_clock(1_700_000_000))
    d.insert(0, "hello 👋🏽 world")
    out.append(("one insert", d))

    d = Document("alice", clock=_fixed_clock(0))
    d.insert(0, "abcdef")
    for _ in range(3):  # Backspace run
        d.delete(len(d) - 1, 1)
    for _ in range(2):  # Delete-key run
        d.delete(0, 1)
    d.delete(0, 1)
    out.append(("backspace and delete runs, times unknown", d))

    rng = random.Random(42)
    clock = _Clock(rng, 1_600_000_000)
    a = Document("alice", clock=clock)
    b = Document("bob", clock=clock)
    c = Document("\uff21gent", clock=clock)
    e = Document("😀moji", clock=clock)
    a.insert(0, "shared base text ")
    for x in (b, c, e):
        x.merge(a)
    a.insert(7, "AAA")
    b.insert(7, "BBB")
    c.delete(0, 3)
    e.insert(len(e), "🐙🐙")
    for x in (b, c, e):
        a.merge(x)
    out.append(("four-way merge (several parents, astral agents)", a))
    partial = b.copy()
    partial.merge(c)
    out.append(("version behind heads impossible: merged but not all", partial))

    rng = random.Random(43)
    clock = _Clock(rng, 1_650_000_000)
    big = Document("writer", clock=clock)
    for _ in range(400):
        _random_edit(rng, big)
    out.append(("long single-author history (deflated)", big))
    return out


def _sample_patches() -> list[tuple[str, list[Op]]]:
    A = "alice"
    out: list[tuple[str, list[Op]]] = [("empty", [])]
    out.append(("one insert", [Op.insert(A, 0, (), 0, "x")]))
    out.append(("astral content", [Op.insert(A, 0, (), 0, "👋🏽🐙𝔘 e\u0301 日本\u200d")]))
    out.append(("BOM kept", [Op.insert(A, 0, (), 0, "\ufeffbom")]))
    out.append(
        (
            "delete runs",
            [
                Op.insert(A, 0, (), 0, "abcdefgh"),
                Op.delete(A, 8, ((A, 7),), 3, 2, True),
                Op.delete(A, 10, ((A, 9),), 0, 3, False),
                Op.delete(A, 13, ((A, 12),), 1, 1, True, time=5),
            ],
        )
    )
    out.append(
        (
            "merge with several parents",
            [
                Op.insert("bob", 3, (("alice", 4), ("carol", 1), ("zoë", 0)), 2, "m", time=1_700_000_001),
                Op.insert("alice", 5, (("bob", 3),), 3, "n", time=1_700_000_001),
                Op.insert("alice", 6, (("alice", 5),), 4, "o", time=1_700_000_002),
            ],
        )
    )
    out.append(
        (
            "agents sorted by code point",
            [
                Op.insert("\uff21", 0, (), 0, "a"),
                Op.insert("😀", 0, (("\uff21", 0),), 1, "b"),
                Op.insert("z", 0, (("\uff21", 0), ("😀", 0)), 2, "c"),
            ],
        )
    )
    out.append(
        (
            "big numbers (8-byte varints)",
            [
                Op.insert(A, 2**53 - 5, (), 0, "ab", time=2**53 - 1),
                Op.delete(A, 2**53 - 3, ((A, 2**53 - 4),), 0, 3, False, time=0),
                Op.delete("bob", 0, ((A, 2**53 - 1),), 2**40, 2**52, True, time=2**52),
            ],
        )
    )
    out.append(("max-length agent", [Op.insert("🐙" * 256, 0, (), 0, "x")]))
    out.append(("out-of-order seqs", [Op.insert(A, 10, (), 0, "x"), Op.insert(A, 3, ((A, 10),), 0, "y")]))
    rng = random.Random(44)
    clock = _Clock(rng, 1_690_000_000)
    d = Document("typist", clock=clock)
    for _ in range(120):
        _random_edit(rng, d)
    out.append(("long history (deflated)", d.ops_since(())))
    d2 = Document("typist", clock=_fixed_clock(0))
    d2.insert(0, "x" * 200)
    out.append(("long run, deflate does not win or does", d2.ops_since(())))
    return out


def _mutants(rng: random.Random, valid: list[bytes], n: int) -> list[bytes]:
    """Random damage to valid encodings, checksum repaired (so decoding gets past it).

    Most mutants damage the raw body (a deflated one is stored inflated, flag 0, so
    the damage reaches the columns); some damage the header or the deflated bytes.
    """
    out = []
    for _ in range(n):
        data = rng.choice(valid)[:-4]
        if data[4] & 1 and rng.random() < 0.8:
            d = zlib.decompressobj()
            i = 5
            while data[i] & 0x80:
                i += 1
            data = data[:4] + b"\x00" + d.decompress(data[i + 1 :])
        buf = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            lo = 3 if rng.random() < 0.1 else 5
            if len(buf) <= lo:
                break
            i = rng.randrange(lo, len(buf))
            r = rng.random()
            if r < 0.4:
                buf[i] ^= 1 << rng.randrange(8)
            elif r < 0.6:
                buf[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
            elif r < 0.8:
                del buf[i : i + rng.randint(1, 4)]
            else:
                buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
        out.append(_crc(bytes(buf)))
    return out


def _fits_js(ops: list[Op]) -> bool:
    """Whether every number of these ops is exact in a JS number (see encoding.js)."""
    return all(o.pos + o.span <= 2**53 for o in ops)


def _outcome(fn: Callable[[bytes], Any], data: bytes) -> str | None:
    try:
        fn(data)
    except DecodeError:
        return "DecodeError"
    return None


def _patch_body(
    agents: Sequence[bytes],
    n: int,
    agent_col: bytes,
    seqs: bytes,
    parents: bytes,
    kindlen: bytes,
    pos: bytes,
    content: bytes,
    times: bytes | None,
) -> bytes:
    body = _uvar(len(agents)) + b"".join(_blk(a) for a in agents) + _uvar(n)
    body += _blk(agent_col) + _blk(seqs) + _blk(parents) + _blk(kindlen) + _blk(pos) + _blk(content)
    if times is not None:
        body += times
    return body


def _times(runs: Sequence[tuple[int, int]], count: int | None = None) -> bytes:
    pairs = b""
    prev = 0
    for k, t in runs:
        pairs += _uvar(k) + _svar(t - prev)
        prev = t
    return _uvar(len(runs) if count is None else count) + _blk(pairs)


def _one_insert(**kw: Any) -> bytes:
    """A one-op patch body (alice inserts "ab" at 0), any column replaceable."""
    cols: dict[str, Any] = {
        "agents": [b"alice"],
        "n": 1,
        "agent_col": _uvar(0) + _uvar(1),
        "seqs": _svar(0),
        "parents": _uvar(1),
        "kindlen": _uvar(2 << 2),
        "pos": _svar(0),
        "content": b"ab",
        "times": _times([(1, 0)]),
    }
    cols.update(kw)
    return _patch_body(**cols)


def _invalid_patches() -> list[tuple[str, bytes]]:
    P = b"CWP"
    good = _framed(P, _one_insert())
    assert decode_patch(good)
    cases: list[tuple[str, bytes]] = [
        ("empty input", b""),
        ("two bytes", b"CW"),
        ("document magic", _framed(b"CWD", _one_insert())),
        ("bad magic", b"XYZ" + good[3:]),
        ("header only", good[:5]),
        ("no checksum", good[:-4]),
        ("bad checksum", good[:-1] + bytes([good[-1] ^ 1])),
        ("format version 0", _framed(P, _one_insert(), version=0)),
        ("format version 3", _framed(P, _one_insert(), version=3)),
        ("unknown flag", _framed(P, _one_insert(), flags=2)),
        ("trailing byte", _framed(P, _one_insert() + b"\x00")),
        ("body truncated", _framed(P, _one_insert()[:-3])),
        ("overlong varint", _framed(P, b"\x80" * 10 + b"\x00")),
        ("11-byte varint", _framed(P, b"\xff" * 11)),
        ("agent count beyond bytes", _framed(P, _one_insert(agents=[b"alice"] * 1)[:0] + _uvar(50) + b"\x01a")),
        ("empty agent name", _framed(P, _one_insert(agents=[b""]))),
        ("agent not UTF-8", _framed(P, _one_insert(agents=[b"al\xffce"]))),
        ("agent with encoded surrogate", _framed(P, _one_insert(agents=[b"a\xed\xa0\x80"]))),
        ("agent 257 characters", _framed(P, _one_insert(agents=["é".encode() * 257]))),
        ("agent listed twice", _framed(P, _one_insert(agents=[b"alice", b"alice"]))),
        ("op count beyond columns", _framed(P, _one_insert(n=9))),
        ("agent index out of range", _framed(P, _one_insert(agent_col=_uvar(1) + _uvar(1)))),
        ("agent run of 0", _framed(P, _one_insert(agent_col=_uvar(0) + _uvar(0)))),
        ("agent run too long", _framed(P, _one_insert(agent_col=_uvar(0) + _uvar(2)))),
        ("unknown op kind", _framed(P, _one_insert(kindlen=_uvar(2 << 2 | 3)))),
        ("empty op", _framed(P, _one_insert(kindlen=_uvar(0), content=b""))),
        ("negative seq", _framed(P, _one_insert(seqs=_svar(-1)))),
        ("seq past 2**53", _framed(P, _one_insert(seqs=_svar(2**53 - 1)))),
        ("huge seq delta", _framed(P, _one_insert(seqs=_svar(-(2**60))))),
        ("first op follows a previous", _framed(P, _one_insert(parents=_uvar(0)))),
        ("parent count beyond column", _framed(P, _one_insert(parents=_uvar(5) + _uvar(0) + _uvar(0)))),
        ("parent agent out of range", _framed(P, _one_insert(parents=_uvar(2) + _uvar(3) + _uvar(0)))),
        ("parent seq 2**53", _framed(P, _one_insert(parents=_uvar(2) + _uvar(0) + _uvar(2**53)))),
        ("negative position", _framed(P, _one_insert(pos=_svar(-1)))),
        ("content too short", _framed(P, _one_insert(content=b"a"))),
        ("content too long", _framed(P, _one_insert(content=b"abc"))),
        ("content not UTF-8", _framed(P, _one_insert(content=b"a\xc3"))),
        ("content with encoded surrogate", _framed(P, _one_insert(kindlen=_uvar(1 << 2), content=b"\xed\xb0\x80"))),
        ("content overlong UTF-8", _framed(P, _one_insert(kindlen=_uvar(1 << 2), content=b"\xc0\xaf"))),
        ("content 3 chars as 2", _framed(P, _one_insert(content="éé".encode()[:3] + b"x"))),
        ("column with trailing byte", _framed(P, _one_insert(pos=_svar(0) + b"\x00"))),
        ("times missing", _framed(P, _one_insert(times=b""))),
        ("time run of 0", _framed(P, _one_insert(times=_times([(0, 5), (1, 6)])))),
        ("times cover too few", _framed(P, _one_insert(times=_times([])))),
        ("times cover too many", _framed(P, _one_insert(times=_times([(2, 5)])))),
        ("time 2**53", _framed(P, _one_insert(times=_times([(1, 2**53)])))),
        ("negative time", _framed(P, _one_insert(times=_times([(1, -1)])))),
        ("time runs equal", _framed(P, _one_insert(n=2, agent_col=_uvar(0) + _uvar(2), seqs=_svar(0) * 2,
                                                   parents=_uvar(1) + _uvar(0), kindlen=_uvar(1 << 2) * 2,
                                                   pos=_svar(0) * 2, times=_times([(1, 5), (1, 5)])))),
        ("time run count beyond block", _framed(P, _one_insert(times=_times([(1, 0)], count=3)))),
        ("v1 with times", _framed(P, _one_insert(), version=1)),
    ]
    # deflate-specific damage
    body = _one_insert(content=b"ab", agents=[b"a" * 150])
    packed = zlib.compress(body, 9)
    cases += [
        ("deflated, size lie (too small)", _framed(P, packed, flags=1, raw_len=len(body) - 1)),
        ("deflated, size lie (too big)", _framed(P, packed, flags=1, raw_len=len(body) + 1)),
        ("deflated, implausible size", _framed(P, packed, flags=1, raw_len=len(packed) * 1040 + 1)),
        ("deflated, garbage", _framed(P, b"\x78\xda" + bytes(range(40)), flags=1, raw_len=len(body))),
        ("deflated, truncated stream", _framed(P, packed[:-6], flags=1, raw_len=len(body))),
        ("deflated, bad adler", _framed(P, packed[:-1] + bytes([packed[-1] ^ 1]), flags=1, raw_len=len(body))),
        ("deflated, trailing bytes", _framed(P, packed + b"\x00", flags=1, raw_len=len(body))),
        ("deflated, two streams", _framed(P, packed + zlib.compress(b"x"), flags=1, raw_len=len(body))),
        ("deflated, raw deflate", _framed(P, zlib.compress(body, 9)[2:-4], flags=1, raw_len=len(body))),
        ("deflated, gzip", _framed(P, _gzip(body), flags=1, raw_len=len(body))),
        ("deflated, empty", _framed(P, b"", flags=1, raw_len=0)),
        ("deflated, bomb", _framed(P, zlib.compress(b"\x00" * 200_000, 9), flags=1, raw_len=200_000)),
    ]
    for name, data in cases:
        try:
            decode_patch(data)
        except DecodeError:
            continue
        raise AssertionError(f"invalid patch vector {name!r} decodes")
    return cases


def _gzip(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _doc_body(**kw: Any) -> bytes:
    """A document body, any column replaceable: by default alice typed "abc" then bob
    deleted "b" concurrently with alice typing "d" (a merge: heads are both)."""
    cols: dict[str, Any] = {
        "agents": [b"alice", b"bob"],
        "n_entries": 3,
        "lens": _uvar(3) + _uvar(1) + _uvar(1),
        "entry_agents": _uvar(0) + _uvar(1) + _uvar(1) + _uvar(1) + _uvar(0) + _uvar(1),
        "seqs": _svar(0) + _svar(0) + _svar(0),
        "parents": _uvar(1) + _uvar(2) + _uvar(1) + _uvar(2) + _uvar(2),  # (), (2,), (2,)
        "n_runs": 3,
        "kindlen": _uvar(3 << 2) + _uvar(1 << 2 | 1) + _uvar(1 << 2),
        "pos": _svar(0) + _svar(1 - 3) + _svar(3 - 1),
        "content": b"abcd",
        "heads": _uvar(2) + _uvar(3) + _uvar(1),
        "version": _uvar(2) + _uvar(3) + _uvar(1),
        "n_chars": 3,
        "text": b"acd",
        "times": _times([(5, 0)]),
    }
    cols.update(kw)
    body: bytes = _uvar(len(cols["agents"])) + b"".join(_blk(a) for a in cols["agents"])
    body += _uvar(cols["n_entries"]) + _blk(cols["lens"]) + _blk(cols["entry_agents"]) + _blk(cols["seqs"])
    body += _blk(cols["parents"]) + _uvar(cols["n_runs"]) + _blk(cols["kindlen"]) + _blk(cols["pos"])
    body += _blk(cols["content"]) + cols["heads"] + cols["version"] + _uvar(cols["n_chars"]) + _blk(cols["text"])
    times: bytes = cols["times"]
    return body + times


def _invalid_documents() -> list[tuple[str, bytes]]:
    D = b"CWD"
    good = _framed(D, _doc_body())
    _, text, _ = decode_document(good)
    assert text == "acd"
    lin = {  # a linear log: alice typed "abc", deleted "b"
        "agents": [b"alice"],
        "n_entries": 1,
        "lens": _uvar(4),
        "entry_agents": _uvar(0) + _uvar(1),
        "seqs": _svar(0),
        "parents": _uvar(1),
        "n_runs": 2,
        "kindlen": _uvar(3 << 2) + _uvar(1 << 2 | 1),
        "pos": _svar(0) + _svar(1 - 3),
        "content": b"abc",
        "heads": _uvar(1) + _uvar(3),
        "version": _uvar(1) + _uvar(3),
        "n_chars": 2,
        "text": b"ac",
        "times": _times([(4, 0)]),
    }
    assert decode_document(_framed(D, _doc_body(**lin)))[1] == "ac"
    cases: list[tuple[str, bytes]] = [
        ("patch magic", _framed(b"CWP", _doc_body())),
        ("truncated", good[:-7]),
        ("bad checksum", good[:-4] + bytes(4)),
        ("trailing byte", _framed(D, _doc_body() + b"\x00")),
        ("entry count beyond columns", _framed(D, _doc_body(n_entries=9))),
        ("empty entry", _framed(D, _doc_body(lens=_uvar(3) + _uvar(0) + _uvar(1)))),
        ("first entry follows a previous", _framed(D, _doc_body(parents=_uvar(0) + _uvar(2) + _uvar(1) + _uvar(2) + _uvar(2)))),
        ("parent not earlier", _framed(D, _doc_body(parents=_uvar(1) + _uvar(2) + _uvar(0) + _uvar(2) + _uvar(2)))),
        ("parents not ascending", _framed(D, _doc_body(parents=_uvar(1) + _uvar(2) + _uvar(1) + _uvar(3) + _uvar(2) + _uvar(3)))),
        ("parent an ancestor of another", _framed(D, _doc_body(parents=_uvar(1) + _uvar(2) + _uvar(1) + _uvar(3) + _uvar(2) + _uvar(1)))),
        ("id used twice", _framed(D, _doc_body(seqs=_svar(0) + _svar(0) + _svar(-1)))),
        ("ids overlap", _framed(D, _doc_body(lens=_uvar(1) + _uvar(1) + _uvar(3), seqs=_svar(2) + _svar(0) + _svar(-3)))),
        ("seq past 2**53", _framed(D, _doc_body(seqs=_svar(2**53 - 2) + _svar(0) + _svar(0)))),
        ("run count beyond columns", _framed(D, _doc_body(n_runs=7))),
        ("unknown run kind", _framed(D, _doc_body(kindlen=_uvar(3 << 2 | 3) + _uvar(1 << 2 | 1) + _uvar(1 << 2)))),
        ("empty run", _framed(D, _doc_body(kindlen=_uvar(3 << 2) + _uvar(0 << 2 | 1) + _uvar(1 << 2)))),
        ("runs cover too few", _framed(D, _doc_body(n_runs=2, kindlen=_uvar(3 << 2) + _uvar(1 << 2 | 1), pos=_svar(0) + _svar(-2), content=b"abc"))),
        ("runs cover too many", _framed(D, _doc_body(kindlen=_uvar(3 << 2) + _uvar(1 << 2 | 1) + _uvar(2 << 2), content=b"abcde"))),
        ("negative run position", _framed(D, _doc_body(pos=_svar(-1) + _svar(0) + _svar(0)))),
        ("position beyond all text", _framed(D, _doc_body(pos=_svar(0) + _svar(7) + _svar(0)))),
        ("content size mismatch", _framed(D, _doc_body(content=b"abcde"))),
        ("heads not the graph's", _framed(D, _doc_body(heads=_uvar(1) + _uvar(4)))),
        ("heads not ascending", _framed(D, _doc_body(heads=_uvar(2) + _uvar(3) + _uvar(0)))),
        ("version beyond the log", _framed(D, _doc_body(version=_uvar(1) + _uvar(9)))),
        ("version not a frontier", _framed(D, _doc_body(version=_uvar(2) + _uvar(2) + _uvar(1)))),
        ("text length lie", _framed(D, _doc_body(n_chars=2))),
        ("text not UTF-8", _framed(D, _doc_body(text=b"a\xffd"))),
        ("text impossibly long", _framed(D, _doc_body(n_chars=5, text=b"abcde"))),
        ("times cover too few", _framed(D, _doc_body(times=_times([(4, 0)])))),
        ("times missing", _framed(D, _doc_body(times=b""))),
        ("linear: text length wrong", _framed(D, _doc_body(**{**lin, "n_chars": 3, "text": b"acx"}))),
        ("linear: insert beyond end", _framed(D, _doc_body(**{**lin, "n_runs": 2, "kindlen": _uvar(1 << 2) + _uvar(2 << 2), "pos": _svar(0) + _svar(2), "n_chars": 3, "text": b"abc", "lens": _uvar(3), "heads": _uvar(1) + _uvar(2), "version": _uvar(1) + _uvar(2), "times": _times([(3, 0)])}))),
        ("linear: delete beyond end", _framed(D, _doc_body(**{**lin, "lens": _uvar(5), "kindlen": _uvar(3 << 2) + _uvar(2 << 2 | 1), "pos": _svar(0) + _svar(2 - 3), "heads": _uvar(1) + _uvar(4), "version": _uvar(1) + _uvar(4), "n_chars": 1, "text": b"a", "times": _times([(5, 0)])}))),
    ]
    for name, data in cases:
        try:
            decode_document(data)
        except DecodeError:
            continue
        raise AssertionError(f"invalid document vector {name!r} decodes")
    return cases


def _invalid_ops() -> list[tuple[str, list[dict[str, Any]]]]:
    """Ops the encoder must refuse (InvalidOpError)."""
    good = op_to_json(Op.insert("alice", 0, (), 0, "ab"))
    gd = op_to_json(Op.delete("alice", 2, (("alice", 1),), 0, 1))
    return [
        ("empty agent", [{**good, "agent": ""}]),
        ("agent 257 characters", [{**good, "agent": "🐙" * 257}]),
        ("agent with a lone surrogate", [{**good, "agent": "a\ud800"}]),
        ("content with a lone surrogate", [{**good, "content": "a\udc00", "length": 2}]),
        ("empty insert", [{**good, "content": "", "length": 0}]),
        ("insert length is not its code points", [{**good, "content": "👋", "length": 2}]),
        ("backward insert", [{**good, "fwd": False}]),
        ("negative seq", [{**good, "seq": -1}]),
        ("fractional pos", [{**good, "pos": 1.5}]),
        ("negative pos", [{**good, "pos": -1}]),
        ("seq past 2**53", [{**good, "seq": 2**53 - 1}]),
        ("bad kind", [{**good, "kind": "move"}]),
        ("delete of 0", [{**gd, "length": 0}]),
        ("delete with content", [{**gd, "content": "x"}]),
        ("bad parent", [{**gd, "parents": [["alice"]]}]),
        ("negative time", [{**good, "time": -1}]),
        ("time 2**53", [{**good, "time": 2**53}]),
    ]


def _invalid_entry(name: str, data: bytes, fn: Callable[[bytes], Any]) -> dict[str, Any]:
    try:
        fn(data)
    except DecodeError as exc:
        return {"name": name, "bytes": b64(data), "error": "DecodeError", "message": str(exc)}
    raise AssertionError(f"invalid vector {name!r} decodes")


def _encoding_vectors() -> dict[str, Any]:
    if not FIXTURES.is_dir():
        raise FileNotFoundError(f"tools/vectors.py runs from a source checkout: {FIXTURES} is missing")
    patches = [
        ("fixture v1-patch", (FIXTURES / "v1-patch.bin").read_bytes()),
        ("fixture v2-patch", (FIXTURES / "v2-patch.bin").read_bytes()),
    ]
    patches += [(name, encode_patch(ops)) for name, ops in _sample_patches()]
    documents = [
        ("fixture v1-document", (FIXTURES / "v1-document.bin").read_bytes()),
        ("fixture v2-document", (FIXTURES / "v2-document.bin").read_bytes()),
    ]
    documents += [(name, _classic(d)) for name, d in _sample_documents()]
    rng = random.Random(6)
    mutants = []
    valid_p = [data for _, data in patches]
    valid_d = [data for _, data in documents]
    for kind, valid, fn in (("patch", valid_p, decode_patch), ("document", valid_d, decode_document)):
        small = [v for v in valid if len(v) < 1500]
        for data in _mutants(rng, small, 150):
            err = _outcome(fn, data)
            entry: dict[str, Any] = {"kind": kind, "bytes": b64(data), "error": err}
            if err is None and kind == "patch":
                ops = decode_patch(data)
                if not _fits_js(ops):
                    continue  # see encoding.js: JS refuses positions past 2**53
                entry["ops"] = [op_to_json(o) for o in ops]
            elif err is None:
                entry.update({k: v for k, v in _document_entry("mutant", data).items() if k in ("text", "version", "heads", "ops")})
            mutants.append(entry)
    return {
        "about": (
            "patches/documents: bytes decode to the recorded value and the decoded value re-encodes to "
            "reencoded.  invalid_*: decoding raises error.  invalid_ops: encode_patch raises error.  "
            "mutants: damaged valid bytes with a repaired checksum; error null means they decode to the "
            "recorded value."
        ),
        "patches": [_patch_entry(name, data) for name, data in patches],
        "documents": [_document_entry(name, data) for name, data in documents],
        "invalid_patches": [_invalid_entry(n, d, decode_patch) for n, d in _invalid_patches()],
        "invalid_documents": [_invalid_entry(n, d, decode_document) for n, d in _invalid_documents()],
        "invalid_ops": [{"name": n, "ops": ops, "error": "InvalidOpError"} for n, ops in _invalid_ops()],
        "mutants": mutants,
    }


# -- positions ---------------------------------------------------------------------------


def _position_vectors() -> dict[str, Any]:
    valid = [
        ("document end", Position(None, 0, 1).encode()),
        ("document start", Position(None, 0, -1).encode()),
        ("simple", Position("alice", 5, 1).encode()),
        ("assoc -1", Position("bob", 300, -1).encode()),
        ("astral agent", Position("🐙\uff21zoë", 2**53 - 1, 1).encode()),
        ("max-length agent", Position("𝔘" * 256, 128, -1).encode()),
        ("overlong seq varint (accepted)", b"CWC\x01\x85\x80\x00alice"),
        ("9-byte seq varint", b"CWC\x01" + b"\x80" * 8 + b"\x00" + b"a"),
        ("agent that looks like a number", Position("12", 0, 1).encode()),
    ]
    invalid = [
        ("empty", b""),
        ("too short", b"CWC\x01"),
        ("bad magic", b"CWD\x01\x00a"),
        ("side byte 2", b"CWC\x02\x00a"),
        ("truncated seq", b"CWC\x01\x80"),
        ("10-byte seq varint", b"CWC\x01" + b"\x80" * 9 + b"\x00a"),
        ("seq 2**53", b"CWC\x01" + _uvar(2**53) + b"a"),
        ("edge with seq", b"CWC\x01\x05"),
        ("agent not UTF-8", b"CWC\x01\x00\xff"),
        ("agent with encoded surrogate", b"CWC\x01\x00\xed\xa0\x80"),
        ("agent 257 characters", b"CWC\x01\x00" + "é".encode() * 257),
    ]
    out_valid = []
    for name, data in valid:
        p = Position.decode(data)
        out_valid.append({"name": name, "bytes": b64(data), "json": p.to_json(), "reencoded": b64(p.encode())})
    out_invalid = []
    for name, data in invalid:
        try:
            Position.decode(data)
        except DecodeError:
            out_invalid.append({"name": name, "bytes": b64(data), "error": "DecodeError"})
            continue
        raise AssertionError(f"invalid position vector {name!r} decodes")
    bad_json: list[tuple[str, Any]] = [
        ("not an object", [None, 0, 1]),
        ("missing key", {"agent": "a", "seq": 0}),
        ("extra key", {"agent": "a", "seq": 0, "assoc": 1, "x": 0}),
        ("assoc 0", {"agent": "a", "seq": 0, "assoc": 0}),
        ("negative seq", {"agent": "a", "seq": -1, "assoc": 1}),
        ("seq 2**53", {"agent": "a", "seq": 2**53, "assoc": 1}),
        ("empty agent", {"agent": "", "seq": 0, "assoc": 1}),
        ("edge with seq", {"agent": None, "seq": 3, "assoc": 1}),
        ("lone surrogate agent", {"agent": "a\ud800", "seq": 0, "assoc": 1}),
    ]
    for name, obj in bad_json:
        try:
            Position.from_json(obj)
        except DecodeError:
            continue
        raise AssertionError(f"invalid position JSON {name!r} accepted")
    return {
        "about": "valid: bytes decode to json and re-encode to reencoded.  invalid: decode raises error.  "
        "invalid_json: from_json raises DecodeError.",
        "valid": out_valid,
        "invalid": out_invalid,
        "invalid_json": [{"name": n, "json": o, "error": "DecodeError"} for n, o in bad_json],
    }


# -- frames ------------------------------------------------------------------------------

_MSG_TYPES: dict[type, str] = {
    Join: "join",
    Welcome: "welcome",
    Ops: "ops",
    Ack: "ack",
    RemoteOps: "remote_ops",
    Presence: "presence",
    Error: "error",
    Ping: "ping",
    Pong: "pong",
    Digest: "digest",
    Resync: "resync",
    Comments: "comments",
    Suggestions: "suggestions",
}
_CAMEL = {"doc_id": "docId", "read_only": "readOnly", "batch_id": "batchId"}


def _jv(v: Any) -> Any:
    """A field value as JSON: bytes as {"$bytes": b64}, integers past 2**53 as {"$bigint": "..."}."""
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": b64(bytes(v))}
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return int(v) if v <= 2**53 else {"$bigint": str(int(v))}
    if isinstance(v, Position):
        return {"$bytes": b64(v.encode())}
    if isinstance(v, (tuple, list)):
        return [_jv(x) for x in v]
    if isinstance(v, dict):
        return {k: _jv(x) for k, x in v.items()}
    raise TypeError(f"no JSON form for {v!r}")


def msg_to_json(msg: Message) -> dict[str, Any]:
    """A message in the JSON form the JS codec's objects have (camelCase, tagged bytes)."""
    out: dict[str, Any] = {"type": _MSG_TYPES[type(msg)]}
    for name in msg.__dataclass_fields__:
        out[_CAMEL.get(name, name)] = _jv(getattr(msg, name))
    return out


def _pv(v: Any) -> Any:
    if isinstance(v, dict) and set(v) == {"$bytes"}:
        return unb64(v["$bytes"])
    if isinstance(v, dict) and set(v) == {"$bigint"}:
        return int(v["$bigint"])
    if isinstance(v, list):
        return tuple(_pv(x) for x in v)
    if isinstance(v, dict):
        return {k: [tuple(r) for r in x] for k, x in v.items()}  # a summary
    return v


def msg_from_json(d: dict[str, Any]) -> Message:
    """The Python message for a JSON form made by :func:`msg_to_json`."""
    cls = {v: k for k, v in _MSG_TYPES.items()}[d["type"]]
    back = {v: k for k, v in _CAMEL.items()}
    kw = {back.get(k, k): _pv(v) for k, v in d.items() if k != "type"}
    if cls is Presence and kw.get("cursor") is not None:
        kw["cursor"] = tuple(Position.decode(p) for p in kw["cursor"])
    if cls is Welcome:
        kw["role"] = Role(kw["role"])
    if cls is Error:
        kw["code"] = ErrorCode(kw["code"])
    msg: Message = cls(**kw)
    return msg


def _valid_messages() -> list[tuple[str, Message]]:
    doc = Document("alice", clock=_fixed_clock(1_700_000_000))
    doc.insert(0, "héllo 👋🏽")
    patch = doc.encode_patch()
    anchor, head = Position("alice", 3, 1), Position(None, 0, -1)
    summary = {"alice": [(0, 5), (9, 12)], "🐙": [(2**53 - 1, 2**53)], "bob": [(0, 1)]}
    return [
        ("join", Join("doc-1", "alice", {})),
        ("join read-only with a summary", Join("notes/ünïcode", "zoë", summary, True)),
        ("join max doc id and agent", Join("d" * 256, "𝔘" * 256, {"a": [(0, 1)]})),
        ("join fresh", Join("doc-1", "alice", {}, fresh=True)),
        ("join fresh and read-only", Join("notes/ünïcode", "zoë", {}, True, True)),
        ("welcome owner", Welcome(Role.OWNER, (), {}, b"")),
        ("welcome editor", Welcome(Role.EDITOR, (("alice", 7), ("bob", 2**53 - 1)), summary, patch)),
        ("welcome viewer", Welcome(Role.VIEWER, (("alice", 0),), {"alice": [(0, 1)]}, patch)),
        ("ops", Ops(1, patch)),
        ("ops batch 0 empty patch", Ops(0, b"")),
        ("ops batch past 2**53", Ops(2**53 + 5, patch)),
        ("ops max batch", Ops(2**64 - 2, patch)),
        ("ack", Ack(3, (("alice", 12), ("carol", 0)))),
        ("ack empty version", Ack(0, ())),
        ("remote ops", RemoteOps(patch)),
        ("presence, no cursor", Presence("alice", "Ada", "#aa3377")),
        ("presence with cursor", Presence("alice", "Ada ✨", "hsl(30 80% 50%)", (anchor, head))),
        ("presence gone", Presence("bob", "", "", None, True)),
        ("presence gone with cursor", Presence("bob", "B", "red", (head, anchor), True)),
        ("error", Error(ErrorCode.BAD_OP, "bad op: ✗", False, 4)),
        ("error fatal, no batch", Error(ErrorCode.BAD_STATE, "superseded", True)),
        ("error batch 0", Error(ErrorCode.UNKNOWN_PARENT, "", False, 0)),
        ("error max batch", Error(ErrorCode.INTERNAL, "x", False, 2**64 - 2)),
        ("error long message", Error(ErrorCode.TOO_LARGE, "é" * 2048, True)),
        *[(f"error code {c.name}", Error(c, c.name.lower())) for c in ErrorCode],
        ("ping", Ping()),
        ("ping 127", Ping(127)),
        ("ping 128", Ping(128)),
        ("ping 2**53 - 1", Ping(2**53 - 1)),
        ("ping 2**53", Ping(2**53)),
        ("pong max", Pong(2**64 - 1)),
        ("pong", Pong(42)),
        ("digest", Digest((("alice", 8),), text_digest(doc.text))),
        ("digest empty text", Digest((), text_digest(""))),
        ("resync", Resync((("alice", 8),), _classic(doc))),
        ("comments", Comments(7)),
        ("comments max revision", Comments(2**53 - 1)),
        ("suggestions", Suggestions(7)),
        ("suggestions max revision", Suggestions(2**53 - 1)),
    ]


def _raw_frame(mtype: int, *parts: bytes) -> bytes:
    return bytes((1, mtype)) + b"".join(parts)


def _s(text: str | bytes) -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return _uvar(len(raw)) + raw


def _invalid_frames() -> list[tuple[str, bytes, int | None]]:
    """(name, bytes, max_size) of frames decode_frame must refuse."""
    ok_summary = _uvar(1) + _s("a") + _uvar(1) + _uvar(0) + _uvar(1)

    def join(*parts: bytes) -> bytes:
        return _raw_frame(0x01, *parts)

    pos = Position("alice", 1).encode()
    frames: list[tuple[str, bytes, int | None]] = [
        ("empty", b"", None),
        ("one byte", b"\x01", None),
        ("protocol version 0", bytes((0, 8, 0)), None),
        ("protocol version 2", bytes((2, 8, 0)), None),
        ("type 0", bytes((1, 0)), None),
        ("type 0x0e", bytes((1, 0x0E, 0)), None),
        ("comments revision 2**53", bytes((1, 0x0C)) + _uvar(2**53), None),
        ("comments without revision", bytes((1, 0x0C)), None),
        ("suggestions revision 2**53", bytes((1, 0x0D)) + _uvar(2**53), None),
        ("suggestions without revision", bytes((1, 0x0D)), None),
        ("type 0xff", bytes((1, 0xFF)), None),
        ("ping without nonce", bytes((1, 8)), None),
        ("ping trailing byte", bytes((1, 8, 0, 0)), None),
        ("overlong varint", bytes((1, 8, 0x80, 0x00)), None),
        ("overlong varint 2", bytes((1, 8, 0x81, 0x80, 0x00)), None),
        ("varint 2**64", bytes((1, 8)) + b"\x80" * 9 + b"\x02", None),
        ("varint 11 bytes", bytes((1, 8)) + b"\xff" * 10 + b"\x01", None),
        ("too large", _raw_frame(0x05, _s(b"x" * 100)), 50),
        ("join empty doc id", join(_s(""), _s("a"), _uvar(0), _uvar(0)), None),
        ("join doc id 257 bytes", join(_s("d" * 257), _s("a"), _uvar(0), _uvar(0)), None),
        ("join empty agent", join(_s("d"), _s(""), _uvar(0), _uvar(0)), None),
        ("join agent 257 characters", join(_s("d"), _s("é" * 257), _uvar(0), _uvar(0)), None),
        ("join agent 1025 bytes", join(_s("d"), _s("a" * 1025), _uvar(0), _uvar(0)), None),
        ("join agent not UTF-8", join(_s("d"), _s(b"a\xff"), _uvar(0), _uvar(0)), None),
        ("join agent encoded surrogate", join(_s("d"), _s(b"\xed\xa0\x80"), _uvar(0), _uvar(0)), None),
        ("join flag bit 2", join(_s("d"), _s("a"), _uvar(4), _uvar(0)), None),
        ("join fresh with a summary", join(_s("d"), _s("a"), _uvar(2), _uvar(1), _s("a"), _uvar(1), _uvar(0), _uvar(1)), None),
        ("join no summary", join(_s("d"), _s("a"), _uvar(0)), None),
        ("join summary count past bytes", join(_s("d"), _s("a"), _uvar(0), _uvar(9), _s("a")), None),
        ("join summary agent twice", join(_s("d"), _s("a"), _uvar(0), _uvar(2), _s("a"), _uvar(1), _uvar(0), _uvar(1), _s("a"), _uvar(1), _uvar(0), _uvar(1)), None),
        ("join summary no runs", join(_s("d"), _s("a"), _uvar(0), _uvar(1), _s("a"), _uvar(0), b"\x00"), None),
        ("join summary gap 0", join(_s("d"), _s("a"), _uvar(0), _uvar(1), _s("a"), _uvar(2), _uvar(0), _uvar(1), _uvar(0), _uvar(1)), None),
        ("join summary run of 0", join(_s("d"), _s("a"), _uvar(0), _uvar(1), _s("a"), _uvar(1), _uvar(0), _uvar(0)), None),
        ("join summary past 2**53", join(_s("d"), _s("a"), _uvar(0), _uvar(1), _s("a"), _uvar(1), _uvar(2**53), _uvar(1)), None),
        ("join summary gap past 2**53", join(_s("d"), _s("a"), _uvar(0), _uvar(1), _s("a"), _uvar(1), _uvar(2**53 + 1), _uvar(1)), None),
        ("join summary runs sum past 2**53", join(_s("d"), _s("a"), _uvar(0), _uvar(1), _s("a"), _uvar(2), _uvar(0), _uvar(2**52), _uvar(2**52 - 1), _uvar(2)), None),
        ("join trailing", join(_s("d"), _s("a"), _uvar(0), ok_summary, b"\x00"), None),
        ("welcome role 3", _raw_frame(0x02, _uvar(3), _uvar(0), _uvar(0), _s(b"")), None),
        ("welcome version seq 2**53", _raw_frame(0x02, _uvar(0), _uvar(1), _s("a"), _uvar(2**53), _uvar(0), _s(b"")), None),
        ("welcome version count past bytes", _raw_frame(0x02, _uvar(0), _uvar(5), _s("a"), _uvar(0), _uvar(0), _s(b"")), None),
        ("welcome patch truncated", _raw_frame(0x02, _uvar(0), _uvar(0), _uvar(0), _uvar(10), b"abc"), None),
        ("ops batch 2**64 - 1", _raw_frame(0x03, _uvar(2**64 - 1), _s(b"")), None),
        ("ops no patch", _raw_frame(0x03, _uvar(1)), None),
        ("ack no version", _raw_frame(0x04, _uvar(1)), None),
        ("remote ops trailing", _raw_frame(0x05, _s(b"ab"), b"c"), None),
        ("presence flag bit 2", _raw_frame(0x06, _s("a"), _s(""), _s(""), _uvar(4)), None),
        ("presence user 257 bytes", _raw_frame(0x06, _s("a"), _s("u" * 257), _s(""), _uvar(0)), None),
        ("presence colour 65 bytes", _raw_frame(0x06, _s("a"), _s(""), _s("c" * 65), _uvar(0)), None),
        ("presence cursor missing", _raw_frame(0x06, _s("a"), _s(""), _s(""), _uvar(1)), None),
        ("presence cursor half", _raw_frame(0x06, _s("a"), _s(""), _s(""), _uvar(1), _s(pos)), None),
        ("presence bad position", _raw_frame(0x06, _s("a"), _s(""), _s(""), _uvar(1), _s(pos), _s(b"CWC\x05\x00")), None),
        ("presence position bad UTF-8", _raw_frame(0x06, _s("a"), _s(""), _s(""), _uvar(1), _s(pos), _s(b"CWC\x01\x00\xff")), None),
        ("presence position 1101 bytes", _raw_frame(0x06, _s("a"), _s(""), _s(""), _uvar(1), _s(pos), _s(b"CWC\x01\x00" + b"a" * 1096)), None),
        ("error code 0", _raw_frame(0x07, _uvar(0), _uvar(0), _uvar(0), _s("")), None),
        ("error code 12", _raw_frame(0x07, _uvar(12), _uvar(0), _uvar(0), _s("")), None),
        ("error flag bit 1", _raw_frame(0x07, _uvar(1), _uvar(2), _uvar(0), _s("")), None),
        ("error message 4097 bytes", _raw_frame(0x07, _uvar(1), _uvar(0), _uvar(0), _s("m" * 4097)), None),
        ("error message not UTF-8", _raw_frame(0x07, _uvar(1), _uvar(0), _uvar(0), _s(b"\xc3")), None),
        ("digest 31 bytes", _raw_frame(0x0A, _uvar(0), _s(b"x" * 31)), None),
        ("digest 33 bytes", _raw_frame(0x0A, _uvar(0), _s(b"x" * 33)), None),
        ("digest truncated", _raw_frame(0x0A, _uvar(0), _uvar(32), b"x" * 31), None),
        ("resync no document", _raw_frame(0x0B, _uvar(0)), None),
        ("resync version agent empty", _raw_frame(0x0B, _uvar(1), _s(""), _uvar(0), _s(b"")), None),
    ]
    return frames


def _invalid_messages() -> list[tuple[str, dict[str, Any]]]:
    """Messages encode_frame must refuse (ProtocolError), in JSON form."""
    good_join = msg_to_json(Join("d", "a", {}))
    digest = msg_to_json(Digest((), text_digest("")))
    return [
        ("join empty doc id", {**good_join, "docId": ""}),
        ("join agent lone surrogate", {**good_join, "agent": "a\udc00"}),
        ("join agent 257 characters", {**good_join, "agent": "🐙" * 257}),
        ("join summary run reversed", {**good_join, "summary": {"a": [[5, 2]]}}),
        ("join summary past 2**53", {**good_join, "summary": {"a": [[0, 2**53 + 2]]}}),
        ("join summary empty agent", {**good_join, "summary": {"": [[0, 1]]}}),
        ("join fresh with a summary", {**good_join, "fresh": True, "summary": {"a": [[0, 1]]}}),
        ("ack version seq 2**53", msg_to_json(Ack(1, ())) | {"version": [["a", 2**53]]}),
        ("ack version empty agent", msg_to_json(Ack(1, ())) | {"version": [["", 1]]}),
        ("ops batch 2**64 - 1", msg_to_json(Ops(1, b"")) | {"batchId": {"$bigint": str(2**64 - 1)}}),
        ("ops negative batch", msg_to_json(Ops(1, b"")) | {"batchId": -1}),
        ("ping nonce 2**64", msg_to_json(Ping(1)) | {"nonce": {"$bigint": str(2**64)}}),
        ("presence user 257 bytes", msg_to_json(Presence("a", "u" * 257))),
        ("presence colour 65 bytes", msg_to_json(Presence("a", "", "c" * 65))),
        ("error message 4097 bytes", msg_to_json(Error(ErrorCode.BAD_OP, "m" * 4097))),
        ("digest 31 bytes", digest | {"digest": {"$bytes": b64(b"x" * 31)}}),
        ("digest 33 bytes", digest | {"digest": {"$bytes": b64(b"x" * 33)}}),
    ]


def _frame_vectors() -> dict[str, Any]:
    valid = []
    for name, msg in _valid_messages():
        data = encode_frame(msg)
        back = decode_frame(data)
        assert back == msg, name
        valid.append({"name": name, "bytes": b64(data), "message": msg_to_json(back), "reencoded": b64(encode_frame(back))})
    # decodable but not canonical: re-encoding normalizes it
    odd = [
        (
            "presence with an overlong position seq",
            _raw_frame(0x06, _s("a"), _s(""), _s(""), _uvar(1), _s(b"CWC\x01\x85\x80\x00a"), _s(b"CWC\x00\x00")),
        ),
        ("join with agent that looks like a number", _raw_frame(0x01, _s("d"), _s("12"), _uvar(0), _uvar(0))),
    ]
    for name, data in odd:
        back = decode_frame(data)
        valid.append({"name": name, "bytes": b64(data), "message": msg_to_json(back), "reencoded": b64(encode_frame(back))})
    invalid = []
    for name, data, max_size in _invalid_frames():
        try:
            decode_frame(data, max_size)
        except ProtocolError as exc:
            invalid.append(
                {"name": name, "bytes": b64(data), "max_size": max_size, "error": "ProtocolError", "code": int(exc.code), "message": str(exc)}
            )
            continue
        raise AssertionError(f"invalid frame vector {name!r} decodes")
    bad_msgs = []
    for name, obj in _invalid_messages():
        try:
            encode_frame(msg_from_json(obj))
        except (ProtocolError, InvalidOpError):
            bad_msgs.append({"name": name, "message": obj, "error": "ProtocolError"})
            continue
        raise AssertionError(f"invalid message vector {name!r} encodes")
    return {
        "about": (
            "Messages in JSON form: bytes as {\"$bytes\": base64}, integers past 2**53 as "
            "{\"$bigint\": decimal} (the JS codec's BigInts), field names camelCase.  valid: bytes decode to message and it "
            "re-encodes to reencoded.  invalid: decode_frame(bytes, max_size) raises ProtocolError with "
            "code.  invalid_messages: encode_frame raises ProtocolError."
        ),
        "valid": valid,
        "invalid": invalid,
        "invalid_messages": bad_msgs,
    }


# -- building and writing --------------------------------------------------------------

_SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "encoding.json": _encoding_vectors,
    "positions.json": _position_vectors,
    "frames.json": _frame_vectors,
    "merge.json": _merge_vectors,
    "positions_resolve.json": _positions_resolve_vectors,
}


def build_vectors(names: Sequence[str] | None = None) -> dict[str, bytes]:
    """Every vector file (or just ``names``) as ``{file name: JSON bytes}``."""
    out = {}
    for name, fn in _SECTIONS.items():
        if names is None or name in names:
            out[name] = _dump(fn())
    return out


def write_vectors(out_dir: Path = DEFAULT_DIR) -> list[Path]:
    """Write every vector file into ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in build_vectors().items():
        p = out_dir / name
        p.write_bytes(data)
        paths.append(p)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """``python tools/vectors.py [--out DIR]``: write the vector files (default: testdata/vectors)."""
    import argparse

    parser = argparse.ArgumentParser(description="Write the test vectors shared with the JavaScript engine.")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"directory (default: {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    for path in write_vectors(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
