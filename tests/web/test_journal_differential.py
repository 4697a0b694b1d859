"""Differential check: the JS journal and text changes (web/src/protocol) must give
exactly what the Python ones (cowrite.protocol.journal / .textchange) give.

Python makes random scripts -- typing runs, deletes and replacements (some refused
by the replica), remote edit lists, flushes, ACKs in any order, ``base`` and
``rebase`` against server texts derived from the base (unchanged, edited, missing
what the user deleted too, shifted within repeated text, unrelated), plus ``diff``
and ``transform`` of random texts -- runs them through the Python journal, and
``node web/test/protocol/journalDriver.mjs FILE`` runs the same scripts through the
JS one.  After every step the segments (changes, seq tags, pinned flags) and the
step's result must be identical.

Scripts: ``COWRITE_DIFF_HISTORIES`` (default 100).  Without Node the test skips with
the reason shown, except in CI (``CI=true``).  A failing script names its seed.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cowrite.protocol.journal import Journal
from cowrite.protocol.textchange import (
    Delete,
    Edit,
    Insert,
    Retain,
    TextChange,
    compose_all,
    diff,
    transform,
)

from .node import WEB, node_or_skip

DRIVER = "test/protocol/journalDriver.mjs"
SCRIPTS = int(os.environ.get("COWRITE_DIFF_HISTORIES") or "100")

# Repeated pieces ("aaa", double spaces, "the ") make diffs ambiguous, so the slide of
# deleted runs is exercised; astral characters and a combining mark check code points.
PIECES = ["a", "b", "c", " ", "  ", "the ", "aaa", "\n", "é", "e\u0301", "😀", "👋🏽", "日本", "𝔘", "xy"]
# A third of the scripts type only these: nearly every deleted run can slide.
REPETITIVE = ["a", "a", "aa", " ", "😀", "b"]
_pieces = PIECES


def _text(rng: random.Random, pieces: int) -> str:
    return "".join(rng.choice(_pieces) for _ in range(pieces))


def change_json(c: TextChange) -> list[Any]:
    out: list[Any] = []
    for op in c.ops:
        if isinstance(op, Retain):
            out.append(op.length)
        elif isinstance(op, Insert):
            out.append(["+", op.text])
        else:
            out.append(["-", op.text if op.text is not None else op.length])
    return out


def _segments(j: Journal) -> list[Any]:
    return [[change_json(s.change), s.seq_end, s.pinned] for s in j.segments]


def _random_change(rng: random.Random, base: str) -> TextChange:
    ops: list[Retain | Insert | Delete] = []
    pos = 0
    while pos < len(base) and rng.random() < 0.85:
        n = rng.randint(1, len(base) - pos)
        r = rng.random()
        if r < 0.4:
            ops.append(Retain(n))
        elif r < 0.7:
            ops.append(Delete(base[pos : pos + n], n) if rng.random() < 0.8 else Delete(None, n))
        else:
            ops.append(Insert(_text(rng, rng.randint(1, 2))))
            continue
        pos += n
    return TextChange(ops)


def _apply(text: str, edits: list[Edit]) -> str:
    for kind, pos, what in edits:
        if kind == 0:
            assert isinstance(what, str)
            text = text[:pos] + what + text[pos:]
        else:
            assert isinstance(what, int)
            text = text[:pos] + text[pos + what :]
    return text


def _server_for(rng: random.Random, j: Journal, view: str) -> str:
    """A server text derived from the journal's base, the way the replica can miss things."""
    base = j.base(view)
    mode = rng.randrange(6)
    if mode == 0:
        return base
    if mode == 1:  # others' edits the replica missed, garbage the replica had
        edits: list[Edit] = []
        text = base
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(0, len(text))
            if rng.random() < 0.5 and pos < len(text):
                n = rng.randint(1, min(8, len(text) - pos))
                edits.append((1, pos, n))
                text = text[:pos] + text[pos + n :]
            else:
                s = _text(rng, rng.randint(1, 2))
                edits.append((0, pos, s))
                text = text[:pos] + s + text[pos:]
        return text
    if mode in (2, 3):  # someone else deleted what the user deleted too (maybe shifted)
        user = compose_all(s.change for s in j.segments)
        spans = []
        pos = 0
        for op in user.ops:
            if isinstance(op, Delete):
                spans.append((pos, pos + op.length))
            if not isinstance(op, Insert):
                pos += op.length
        text = base
        for a, b in reversed(spans):
            if rng.random() < 0.8:
                shift = rng.randint(-2, 2) if mode == 3 else 0
                a, b = max(0, a + shift), max(0, min(len(text), b + shift))
                text = text[:a] + text[b:]
        return text
    if mode == 4:
        return _text(rng, rng.randint(0, 20))  # unrelated
    chars = list(base)  # many small changes
    for _ in range(rng.randint(1, 12)):
        p = rng.randint(0, len(chars))
        chars[p : p + rng.randint(0, 2)] = list(rng.choice(["", "Q", "ZZ", "😀"]))
    return "".join(chars)


def _script(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A random script and what the Python journal gives for each step."""
    global _pieces
    rng = random.Random(seed)
    _pieces = REPETITIVE if seed % 3 == 0 else PIECES
    j = Journal()
    view = _text(rng, rng.randint(0, 25))
    cursor = rng.randint(0, len(view))
    seq = 0
    steps: list[list[Any]] = []
    expect: list[dict[str, Any]] = []

    def record(step: list[Any], result: Any) -> None:
        steps.append(step)
        expect.append({"result": result, "segments": _segments(j)})

    for _ in range(rng.randint(20, 120)):
        r = rng.random()
        if r < 0.45:  # the user
            if rng.random() < 0.2:
                cursor = rng.randint(0, len(view))
            cursor = min(cursor, len(view))
            k = rng.random()
            if k < 0.6 or not view:
                deleted, ins = "", rng.choice(_pieces)
            elif k < 0.8 and cursor > 0:
                cursor -= 1  # backspace
                deleted, ins = view[cursor], ""
            else:
                n = rng.randint(1, min(6, len(view) - cursor)) if cursor < len(view) else 0
                deleted, ins = view[cursor : cursor + n], rng.choice(["", rng.choice(_pieces)])
            if not deleted and not ins:
                continue
            in_replica = rng.random() > 0.06
            j.local(cursor, deleted, ins, in_replica=in_replica)
            view = view[:cursor] + ins + view[cursor + len(deleted) :]
            record(["local", cursor, deleted, ins, in_replica], None)
            cursor += len(ins)
        elif r < 0.62:  # others
            edits: list[Edit] = []
            for _ in range(rng.randint(1, 4)):
                pos = rng.randint(0, len(view))
                if rng.random() < 0.5 and pos < len(view):
                    n = rng.randint(1, min(10, len(view) - pos))
                    edits.append((1, pos, n))
                    view = view[:pos] + view[pos + n :]
                else:
                    s = _text(rng, rng.randint(1, 2))
                    edits.append((0, pos, s))
                    view = view[:pos] + s + view[pos:]
            j.remote(edits)
            record(["remote", [list(e) for e in edits]], None)
        elif r < 0.72:
            seq += rng.randint(0, 4)
            j.flushed(seq)
            record(["flushed", seq], None)
        elif r < 0.82:
            acked = rng.randint(0, seq)
            j.confirmed(acked)
            record(["confirmed", acked], None)
        elif r < 0.86:
            record(["base", view], j.base(view))
        elif r < 0.94:
            server = _server_for(rng, j, view)
            res = j.rebase(view, server)
            assert _apply(server, res.on_server) == res.text == _apply(view, res.on_view), f"seed {seed}"
            record(
                ["rebase", view, server],
                {"on_server": [list(e) for e in res.on_server], "on_view": [list(e) for e in res.on_view], "text": res.text},
            )
            view = res.text
            cursor = min(cursor, len(view))
        elif r < 0.97:
            a = _text(rng, rng.randint(0, 40))
            chars = list(a)
            for _ in range(rng.randint(0, 8)):
                p = rng.randint(0, len(chars))
                chars[p : p + rng.randint(0, 3)] = list(rng.choice(PIECES + [""]))
            b = "".join(chars) if rng.random() < 0.8 else _text(rng, rng.randint(0, 40))
            max_d = rng.choice([0, 1, 3, 10, 2000])
            record(["diff", a, b, max_d], change_json(diff(a, b, max_d=max_d)))
        else:
            x = _text(rng, rng.randint(0, 12))
            ca, cb = _random_change(rng, x), _random_change(rng, x)
            a2, b2 = transform(ca, cb)
            record(["transform", x, change_json(ca), change_json(cb)], [change_json(a2), change_json(b2)])
    return {"seed": seed, "steps": steps}, expect


def _long_diff_scripts() -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """A few long texts (astral, scattered edits, one past the cap) for the diff alone."""
    global _pieces
    _pieces = PIECES
    rng = random.Random(77)
    scripts, expects = [], []
    for k, (size, edits, max_d) in enumerate([(20_000, 10, 2000), (20_000, 300, 2000), (5_000, 400, 100)]):
        a = _text(rng, size // 2)
        chars = list(a)
        for _ in range(edits):
            p = rng.randrange(len(chars))
            chars[p : p + rng.randint(0, 3)] = list(rng.choice(PIECES + [""]))
        b = "".join(chars)
        scripts.append({"seed": f"long-{k}", "steps": [["diff", a, b, max_d]]})
        expects.append([{"result": change_json(diff(a, b, max_d=max_d)), "segments": []}])
    return scripts, expects


def test_js_journal_agrees_with_python(tmp_path: Path) -> None:
    node = node_or_skip()
    scripts, expects = _long_diff_scripts()
    for k in range(SCRIPTS):
        script, expect = _script(30_000 + k)
        scripts.append(script)
        expects.append(expect)
    kinds = {step[0] for s in scripts for step in s["steps"]}
    assert kinds >= {"local", "remote", "flushed", "confirmed", "base", "rebase", "diff"}
    path = tmp_path / "scripts.json"
    path.write_text(json.dumps({"scripts": scripts}), encoding="utf-8")
    proc = subprocess.run([node, DRIVER, str(path)], cwd=WEB, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"node {DRIVER} failed (exit {proc.returncode}):\n{proc.stderr[-5000:]}")
    results = json.loads(proc.stdout)["results"]
    assert len(results) == len(scripts)
    for script, expect, got in zip(scripts, expects, results, strict=True):
        assert got["seed"] == script["seed"]
        for i, (step, want, have) in enumerate(zip(script["steps"], expect, got["outputs"], strict=True)):
            where = f"seed {script['seed']}, step {i} {json.dumps(step)[:300]}"
            assert have["result"] == want["result"], f"{where}: results differ"
            assert have["segments"] == want["segments"], f"{where}: segments differ"
