"""Differential fuzzing: the JS engine (web/src/engine) and the Python engine must
merge every history to the same text.

Both directions run on random concurrent histories:

* JS -> Python: ``node web/test/differential.mjs SEED COUNT`` makes histories with
  the JS engine (peers typing emoji and runs, undoing, reloading snapshots, syncing
  partially, one offline for a long stretch) and prints the patches an observer
  received with its text after each; the Python engine replays them.
* Python -> JS: the Python engine makes histories (``tests/engine/sim.py``) and
  ``node web/test/differential.mjs --replay FILE`` applies them with the JS engine.
* Undo: the Python engine runs random scripts of edits, undos, redos, pauses and
  pulls between peers; ``--undo FILE`` runs them with the JS UndoManager, which
  must leave the same text and return the same selection after every command.

Sizes scale with ``COWRITE_DIFF_HISTORIES`` (histories per direction; else
``COWRITE_SIM_SEEDS``; default 12).
Without Node the tests skip with the reason shown, except in CI (``CI=true``),
where a missing Node is a failure.  A failing history names its seed.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cowrite.engine import Document, UndoManager
from cowrite.engine import encode_patch
from sim import Sim

from .node import WEB, node_or_skip

DRIVER = "test/differential.mjs"
# Histories per direction: COWRITE_DIFF_HISTORIES (CI runs 150: they are cheap, about
# 0.1 s each), else COWRITE_SIM_SEEDS, else 12.
SEEDS = int(os.environ.get("COWRITE_DIFF_HISTORIES") or os.environ.get("COWRITE_SIM_SEEDS") or "12")


def _run(args: list[str]) -> Any:
    proc = subprocess.run([node_or_skip(), DRIVER, *args], cwd=WEB, capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1):
        pytest.fail(f"node {DRIVER} {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-5000:]}")
    return json.loads(proc.stdout), proc.returncode


def _version(v: Any) -> list[list[Any]]:
    return [[a, s] for a, s in v]


# -- JS -> Python ------------------------------------------------------------------


def _replay_in_python(h: dict[str, Any]) -> None:
    seed = h["seed"]
    doc = Document("py-observer")
    for i, step in enumerate(h["steps"]):
        doc.apply_patch(base64.b64decode(step["patch"]))
        assert doc.text == step["text"], f"JS seed {seed}, step {i}: Python text differs"
        assert _version(doc.version) == step["version"], f"JS seed {seed}, step {i}: Python version differs"
    assert doc.text == h["text"], f"JS seed {seed}: final text differs"
    for k, load in enumerate(h["loads"]):
        snap = Document.decode(base64.b64decode(load["document"]), "py-loader")
        assert snap.text == load["text"], f"JS seed {seed}, load {k}: snapshot text differs"
        for i in range(load["from_step"], len(h["steps"])):
            snap.apply_patch(base64.b64decode(h["steps"][i]["patch"]))
            assert snap.text == h["steps"][i]["text"], f"JS seed {seed}, load {k}, step {i}: text differs"


def test_js_histories_replay_identically_in_python() -> None:
    out, rc = _run(["0", str(SEEDS)])
    assert rc == 0
    histories = out["histories"]
    assert len(histories) == SEEDS
    assert sum(len(h["steps"]) for h in histories) > SEEDS  # not trivially empty
    for h in histories:
        _replay_in_python(h)


# -- Python -> JS ------------------------------------------------------------------


def _python_history(seed: int) -> dict[str, Any]:
    """Agents of a Sim edit and merge among themselves (one offline for the middle
    half); an observer receives what it lacks from one agent at a time, sometimes
    re-sent whole (known ops must be ignored), and snapshots are taken on the way."""
    rng = random.Random(seed)
    n_agents = rng.randint(3, 5)
    sim = Sim(n_agents)
    observer = Document("observer")
    steps: list[dict[str, Any]] = []
    loads: list[dict[str, Any]] = []

    def deliver(patch: bytes) -> None:
        observer.apply_patch(patch)
        steps.append(
            {"patch": base64.b64encode(patch).decode(), "text": observer.text, "version": _version(observer.version)}
        )

    def flush(i: int) -> None:
        ops = sim.docs[i].ops_missing_from(observer.summary())
        if ops:
            deliver(encode_patch(ops))

    n_events = rng.randint(60, 200)
    away = rng.randrange(n_agents)
    for t in range(n_events):
        if t == n_events // 4:
            sim.set_offline(away, True)
        if t == (3 * n_events) // 4:
            sim.set_offline(away, False)
        i = rng.randrange(n_agents)
        r = rng.random()
        if r < 0.4:
            sim.insert(i, rng.randrange(10**6), rng.randint(1, 6))
        elif r < 0.47:
            sim.insert_backwards(i, rng.randrange(10**6), rng.randint(2, 4))
        elif r < 0.62:
            sim.delete(i, rng.randrange(10**6), rng.randrange(100), backspace=rng.random() < 0.5)
        elif r < 0.8:
            sim.merge(i, rng.randrange(n_agents), rng.randrange(5), rng.randrange(10**6))
        elif r < 0.93:
            if i not in sim.offline:
                flush(i)
        elif r < 0.96:
            if i not in sim.offline and steps:
                deliver(sim.docs[i].encode_patch())  # everything again: mostly known ops
        elif steps:
            loads.append(
                {
                    "document": base64.b64encode(observer.encode()).decode(),
                    "from_step": len(steps),
                    "text": observer.text,
                }
            )
    sim.offline.clear()
    for i in range(n_agents):
        flush(i)
    return {"seed": seed, "steps": steps, "loads": loads, "text": observer.text}


def test_python_histories_replay_identically_in_js(tmp_path: Path) -> None:
    histories = [_python_history(10_000 + k) for k in range(SEEDS)]
    path = tmp_path / "histories.json"
    path.write_text(json.dumps({"histories": histories}), encoding="utf-8")
    out, rc = _run(["--replay", str(path)])
    bad = [r for r in out["results"] if not r["ok"]]
    assert not bad, "JS disagrees with Python on seeds:\n" + "\n".join(f"seed {r['seed']}: {r['error']}" for r in bad)
    assert rc == 0
    assert len(out["results"]) == SEEDS


# -- undo scripts ------------------------------------------------------------------

WORDS = ["a", "xy", "the ", "👋🏽", "e\u0301", "日本", "Ω!", "\n"]


def _undo_script(seed: int) -> dict[str, Any]:
    """Peers edit, undo, redo and pull from each other under one hand-driven clock
    (milliseconds; pauses never sum to exactly the 500 ms capture timeout)."""
    rng = random.Random(seed)
    agents = ["ann", "bo", "\u00e7y"][: rng.randint(2, 3)]
    now = [0]
    docs = [Document(a, clock=lambda: 1_700_000_000) for a in agents]
    ums = [UndoManager(d, capture_timeout=500, clock=lambda: now[0]) for d in docs]
    commands: list[list[Any]] = []
    expect: list[dict[str, Any]] = []
    for _ in range(rng.randint(30, 150)):
        i = rng.randrange(len(docs))
        d = docs[i]
        r = rng.random()
        res = None
        if r < 0.3 or (r < 0.45 and not len(d)):
            pos = rng.randint(0, len(d))
            text = rng.choice(WORDS)
            d.insert(pos, text)
            cmd: list[Any] = [i, "insert", pos, text]
        elif r < 0.45:
            pos = rng.randrange(len(d))
            n = 1 if rng.random() < 0.6 else rng.randint(1, len(d) - pos)
            d.delete(pos, n)
            cmd = [i, "delete", pos, n]
        elif r < 0.6:
            res = ums[i].undo()
            cmd = [i, "undo"]
        elif r < 0.7:
            res = ums[i].redo()
            cmd = [i, "redo"]
        elif r < 0.82:
            tick = rng.choice([90, 130, 700, 2100])
            now[0] += tick
            cmd = [i, "tick", tick]
        elif r < 0.85:
            ums[i].stop_capturing()
            cmd = [i, "stop"]
        else:
            j = rng.randrange(len(docs))
            d.apply_patch(encode_patch(docs[j].ops_missing_from(d.summary())))
            cmd = [i, "pull", j]
        commands.append(cmd)
        expect.append({"text": d.text, "result": None if res is None else [res.anchor, res.head]})
    return {"seed": seed, "agents": agents, "commands": commands, "expect": expect}


def test_undo_scripts_agree_with_python(tmp_path: Path) -> None:
    scripts = [_undo_script(20_000 + k) for k in range(2 * SEEDS)]
    assert sum(1 for h in scripts for c in h["commands"] if c[1] == "undo") > SEEDS
    path = tmp_path / "undo.json"
    path.write_text(json.dumps({"histories": scripts}), encoding="utf-8")
    out, rc = _run(["--undo", str(path)])
    bad = [r for r in out["results"] if not r["ok"]]
    assert not bad, "JS undo disagrees with Python on seeds:\n" + "\n".join(f"seed {r['seed']}: {r['error']}" for r in bad)
    assert rc == 0
    assert len(out["results"]) == 2 * SEEDS
