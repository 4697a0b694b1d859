"""Hand-made patches of the engine's layout (``engine/codec/patch.py``) that cost a
decoder far more than their size: for the batch-limit tests and the memory figures."""

from __future__ import annotations

import zlib


def uvar(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def svar(n: int) -> bytes:
    return uvar((n << 1) ^ (n >> 63) if n >= 0 else ((-n) << 1) - 1)


def block(data: bytes) -> bytes:
    return uvar(len(data)) + data


def frame(body: bytes, *, deflate: bool) -> bytes:
    """Magic, version 2, flags, (inflated size,) body, CRC-32."""
    out = bytearray(b"CWP\x02")
    if deflate:
        out.append(1)
        out += uvar(len(body)) + zlib.compress(body, 9)
    else:
        out.append(0)
        out += body
    out += zlib.crc32(out).to_bytes(4, "little")
    return bytes(out)


def body(
    agents: list[str],
    n: int,
    *,
    op_agents: bytes | None = None,
    seqs: bytes | None = None,
    parents: bytes | None = None,
    kinds: bytes | None = None,
    positions: bytes | None = None,
    content: bytes = b"",
    times: bytes | None = None,
) -> bytes:
    """A patch body; every column defaults to ``n`` ops of agent 0, seq deltas 0,
    "the previous op" as parent (none for the first), one-character forward deletes at 0."""
    out = bytearray(uvar(len(agents)))
    for a in agents:
        out += block(a.encode())
    out += uvar(n)
    out += block(op_agents if op_agents is not None else uvar(0) + uvar(n))
    out += block(seqs if seqs is not None else b"\x00" * n)
    out += block(parents if parents is not None else (uvar(1) + b"\x00" * (n - 1) if n else b""))
    out += block(kinds if kinds is not None else bytes([1 << 2 | 1]) * n)
    out += block(positions if positions is not None else b"\x00" * n)
    out += block(content)
    out += times if times is not None else uvar(1) + block(uvar(n) + svar(0))
    return bytes(out)


def many_ops(n: int, *, deflate: bool = True) -> bytes:
    """``n`` one-character deletes of agent "a": 4 bytes an op, a few KiB deflated."""
    return frame(body(["a"], n), deflate=deflate)


def many_inserts(n: int) -> bytes:
    """``n`` one-character inserts of agent "a", each at the start (a run each): a patch
    a server without an op bound accepts."""
    kinds = bytes([1 << 2 | 0]) * n
    positions = b"\x00" + svar(-1) * (n - 1)  # predicted pos + 1 after an insert: back to 0
    return frame(body(["a"], n, kinds=kinds, positions=positions, content=b"x" * n), deflate=True)


def many_parents(k: int, *, deflate: bool = False) -> bytes:
    """One insert of agent "a" whose parents are ``k`` ids of agent "b"."""
    parents = bytearray(uvar(k + 1))
    for i in range(k):
        parents += uvar(1) + uvar(i)
    kinds = bytes([1 << 2 | 0])
    return frame(body(["a", "b"], 1, parents=bytes(parents), kinds=kinds, content=b"x"), deflate=deflate)


def many_agents(k: int, *, deflate: bool = False) -> bytes:
    """One insert of agent "a" in a patch that lists ``k`` more agents."""
    agents = ["a"] + [f"x{i:x}" for i in range(k)]
    kinds = bytes([1 << 2 | 0])
    return frame(body(agents, 1, kinds=kinds, content=b"x"), deflate=deflate)


def zeros_claiming(size: int) -> bytes:
    """A deflated body of ``size`` zero bytes (128 MiB deflate to ~127 KiB)."""
    return frame(b"\x00" * size, deflate=True)


def big_insert(chars: int, *, wide: bool = True) -> bytes:
    """One insert of ``chars`` characters (one of them outside the BMP if ``wide``, which
    makes Python store the text at 4 bytes a character), deflated."""
    text = ("\U0001f600" if wide else "a") + "a" * (chars - 1)
    raw = text.encode()
    kinds = uvar(chars << 2 | 0)
    return frame(body(["a"], 1, parents=uvar(1), kinds=kinds, content=raw), deflate=True)
