"""The client's state file and the backoff schedule (no server needed)."""

from __future__ import annotations

import asyncio

import random
from pathlib import Path

import pytest

from cowrite.client import Client, ClientSettings, StateFileError, backoff_delay
from cowrite.client.storage import StateWriter, decode_state, encode_state, read_state
from cowrite.engine import Document

URL = "ws://127.0.0.1:9"  # never contacted: these clients are not started


def _doc() -> Document:
    d = Document("agent-1")
    d.insert(0, "hello wörld")
    d.delete(0, 1)
    return d


def test_state_round_trip(tmp_path: Path) -> None:
    d = _doc()
    path = tmp_path / "s.cwc"
    w = StateWriter(path)
    w.write(w.next_gen(), encode_state("doc-1", d))
    loaded = read_state(path)
    assert loaded is not None
    doc_id, d2 = loaded
    assert (doc_id, d2.agent, d2.text, d2.version, d2.summary()) == ("doc-1", "agent-1", d.text, d.version, d.summary())
    d2.insert(0, "H")  # the agent's seq counter continues where it stopped
    assert d2.ops_since(d.version)[0].seq == d.oplog.cg.next_seq("agent-1")
    assert read_state(tmp_path / "absent.cwc") is None


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic", "empty"])
def test_damaged_state_is_refused(tmp_path: Path, damage: str) -> None:
    data = bytearray(encode_state("doc-1", _doc()))
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "truncate":
        del data[-10:]
    elif damage == "magic":
        data[0:8] = b"NOTMINE!"
    else:
        data = bytearray()
    with pytest.raises(StateFileError):
        decode_state(bytes(data))
    path = tmp_path / "s.cwc"
    path.write_bytes(bytes(data))
    with pytest.raises(StateFileError):
        Client(URL, "doc-1", "t", path=path)
    # The lock was released: a fixed file opens.
    path.write_bytes(encode_state("doc-1", _doc()))
    c = Client(URL, "doc-1", "t", path=path)
    assert c.text == "ello wörld"
    asyncio.run(c.close())


def test_older_write_never_replaces_a_newer_one(tmp_path: Path) -> None:
    path = tmp_path / "s.cwc"
    w = StateWriter(path)
    old, new = w.next_gen(), w.next_gen()
    w.write(new, encode_state("d", _doc()))
    w.write(old, encode_state("d", Document("agent-1")))  # a slow, older save finishing late
    loaded = read_state(path)
    assert loaded is not None and loaded[1].text == "ello wörld"


async def _close(c: Client) -> None:
    await c.close()


def test_client_state_file_identity_and_lock(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "notes.cwc"
    a = Client(URL, "notes", "t", path=path)
    agent = a.agent
    assert path.exists()  # the agent is on disk before any edit
    with pytest.raises(StateFileError, match="another client"):
        Client(URL, "notes", "t", path=path)
    a.insert(0, "queued")
    asyncio.run(_close(a))  # never started: close still saves

    b = Client(URL, "notes", "t", path=path)
    assert (b.agent, b.text) == (agent, "queued")
    asyncio.run(_close(b))
    with pytest.raises(StateFileError, match="holds document 'notes'"):
        Client(URL, "other", "t", path=path)
    with pytest.raises(StateFileError, match="belongs to agent"):
        Client(URL, "notes", "t", path=path, agent="someone-else")
    c = Client(URL, "notes", "t", path=path, agent=agent)  # naming the stored agent is fine
    asyncio.run(_close(c))

    (tmp_path / ".notes.cwc.1234.tmp").write_bytes(b"half-written")
    d = Client(URL, "notes", "t", path=path)
    assert not (tmp_path / ".notes.cwc.1234.tmp").exists()
    asyncio.run(_close(d))


def test_backoff_is_exponential_with_full_jitter_and_a_cap() -> None:
    assert backoff_delay(0, 0.1, 5.0, lambda: 1.0) == pytest.approx(0.1)
    assert backoff_delay(3, 0.1, 5.0, lambda: 1.0) == pytest.approx(0.8)
    assert backoff_delay(10, 0.1, 5.0, lambda: 1.0) == pytest.approx(5.0)
    assert backoff_delay(10_000, 0.1, 5.0, lambda: 1.0) == pytest.approx(5.0)  # no overflow
    assert backoff_delay(4, 0.1, 5.0, lambda: 0.0) == 0.0
    rng = random.Random(0)
    samples = [backoff_delay(6, 0.1, 5.0, rng.random) for _ in range(2000)]
    assert 0 <= min(samples) < 0.1 and 4.9 < max(samples) < 5.0  # spread over [0, cap)
    assert 2.3 < sum(samples) / len(samples) < 2.7


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Client("ftp://host", "d", "t")
    with pytest.raises(ValueError):
        Client(URL, "d", "t", settings=ClientSettings(backoff_base=0))
    with pytest.raises(ValueError):
        Client(URL, "d" * 300, "t")  # the protocol's limit on document ids
    with pytest.raises(ValueError):
        Client(URL, "d", "t", colour="#" * 65)
    assert Client("http://h:1/base/", "d", "t").url == "ws://h:1/base/ws/d"
    assert Client("https://h", "a b", "t").url == "wss://h/ws/a%20b"


def test_state_keeps_the_seq_floor_and_acked_seq_and_reads_format_1(tmp_path: Path) -> None:
    import struct
    import zlib

    from cowrite.client.storage import MAGIC, load_state

    d = _doc()
    path = tmp_path / "s.cwc"
    path.write_bytes(encode_state("doc-1", d, seq_floor=40, acked_seq=7))
    stored = load_state(path)
    assert stored is not None and (stored.seq_floor, stored.acked_seq) == (40, 7)
    stored.doc.insert(0, "x")  # the floor is reserved on the loaded replica
    assert stored.doc.ops_since(d.version)[0].seq == 40
    # a format-1 file (no seq marks) still loads
    ident, agent = b"doc-1", d.agent.encode()
    old = bytearray(MAGIC) + struct.pack(">BH", 1, len(ident)) + ident + struct.pack(">H", len(agent)) + agent + d.encode()
    old += struct.pack(">I", zlib.crc32(old))
    path.write_bytes(bytes(old))
    stored = load_state(path)
    assert stored is not None and stored.doc.text == d.text and (stored.seq_floor, stored.acked_seq) == (0, 0)


def test_client_settings_are_checked_when_made() -> None:
    from cowrite.errors import ConfigError

    s = ClientSettings()
    assert s.max_frame_bytes == 256 * 1024 and s.min_frame_bytes == 4096 and s.backoff_base == 0.1
    for bad in (
        {"backoff_base": 0},
        {"backoff_base": 2.0, "backoff_cap": 1.0},
        {"flush_interval": -1},
        {"flush_interval": float("nan")},
        {"save_delay": "soon"},
        {"connect_timeout": 0},
        {"keepalive": 0},
        {"digest_interval": -5},
        {"max_batch_ops": 0},
        {"max_batch_ops": 1.5},
        {"max_frame_bytes": 1000},
        {"min_frame_bytes": 100},
        {"max_frame_bytes": 8192, "min_frame_bytes": 16384},
        {"max_recoveries": 0},
        {"proxy": 3},
    ):
        with pytest.raises(ConfigError):
            ClientSettings(**bad)  # type: ignore[arg-type]
    assert ClientSettings(keepalive=None, digest_interval=None, proxy="http://proxy:3128").keepalive is None
    with pytest.raises(ConfigError):
        Client(URL, "d", "t", settings={"backoff_base": 1})  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        s.backoff_base = 1.0  # type: ignore[misc]  # frozen
