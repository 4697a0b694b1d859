"""Minimal whole-process replay: ``python bench/replay.py PEER TRACE_FILE``.

Parses a sequential trace, applies every patch with one engine, prints the final text
and exits.  Timed from outside as a subprocess, so interpreter start-up, imports and
JSON parsing all count, as they do for a user running ``cowrite replay FILE``.  Kept
free of the rest of the harness on purpose (only stdlib + the engine are imported);
``PEER=none`` parses the trace and prints ``endContent``, the floor every peer pays.

pycrdt indexes text by UTF-8 bytes, so for traces with non-ASCII text its replay
converts positions here, inside the timed process (that is work a pycrdt user has).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Patch = tuple[int, int, str]


def read_trace(path: str) -> dict[str, Any]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def patches(trace: dict[str, Any]) -> Iterator[Patch]:
    for txn in trace["txns"]:
        yield from ((pos, n_del, ins) for pos, n_del, ins in txn["patches"])


def replay_none(trace: dict[str, Any]) -> str:
    return trace["endContent"]


def replay_cowrite(trace: dict[str, Any]) -> str:
    from cowrite import Document

    doc = Document(agent="replay")
    for pos, n_del, ins in patches(trace):
        if n_del:
            doc.delete(pos, n_del)
        if ins:
            doc.insert(pos, ins)
    return doc.text


def replay_pycrdt(trace: dict[str, Any]) -> str:
    from pycrdt import Doc, Text

    ps: list[Patch] | Iterator[Patch] = patches(trace)
    if not all(p[2].isascii() for p in patches(trace)):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from traces import to_utf8_patches

        ps = to_utf8_patches(list(ps))
    doc = Doc()
    text = doc.get("text", type=Text)
    for pos, n_del, ins in ps:
        if n_del:
            del text[pos : pos + n_del]
        if ins:
            text.insert(pos, ins)
    return str(text)


def replay_loro(trace: dict[str, Any]) -> str:
    from loro import LoroDoc

    doc = LoroDoc()
    text = doc.get_text("text")
    for pos, n_del, ins in patches(trace):
        if n_del:
            text.delete(pos, n_del)
        if ins:
            text.insert(pos, ins)
        doc.commit()
    return text.to_string()


REPLAYS = {
    "none": replay_none,
    "cowrite": replay_cowrite,
    "pycrdt": replay_pycrdt,
    "loro": replay_loro,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in REPLAYS:
        print(f"usage: replay.py {{{','.join(REPLAYS)}}} TRACE_FILE", file=sys.stderr)
        return 2
    text = REPLAYS[argv[0]](read_trace(argv[1]))
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
