"""Undo benchmark: cowrite's UndoManager beside pycrdt's and loro's, in one run.

    python bench/undo.py [--repeat 3] [--steps 1000] [--write BENCHMARKS.md]

For each sequential trace, every engine replays the whole trace with its undo
manager attached and every patch made its own undo step (cowrite:
``stop_capturing()``; pycrdt: ``capture_timeout_millis=0``; loro: merge interval
0 and a commit per patch), then undoes the last ``--steps`` steps.  Both phases
are timed separately (best of ``--repeat``); after the undos every engine's text
must equal the trace replayed without those patches, or the run fails.

With ``--write`` the table replaces the part of BENCHMARKS.md between
``<!-- bench-undo:start -->`` and ``<!-- bench-undo:end -->`` (appended if absent).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from machine import cpu_model
from timing import best_of
from traces import Patch, apply_patches_to_str, load_trace, to_utf8_patches

TRACES = ["automerge-paper", "seph-blog1", "friendsforever_flat", "sveltecomponent"]
START, END = "<!-- bench-undo:start -->", "<!-- bench-undo:end -->"


def cowrite_run(patches: Sequence[Patch], steps: int) -> tuple[Callable[[], object], Callable[[object], str]]:
    from cowrite.engine import Document, UndoManager

    def replay() -> object:
        d = Document("bench", clock=lambda: 0)
        um = UndoManager(d, clock=lambda: 0.0)
        for pos, n_del, ins in patches:
            if n_del:
                d.delete(pos, n_del)
            if ins:
                d.insert(pos, ins)
            um.stop_capturing()
        return d, um

    def undo(state: object) -> str:
        d, um = state  # type: ignore[misc]
        for _ in range(steps):
            um.undo()
        return str(d.text)

    return replay, undo


def pycrdt_run(patches: Sequence[Patch], steps: int) -> tuple[Callable[[], object], Callable[[object], str]]:
    from pycrdt import Doc, Text, UndoManager

    utf8 = to_utf8_patches(patches)

    def replay() -> object:
        doc = Doc()
        text = doc.get("text", type=Text)
        um = UndoManager(scopes=[text], capture_timeout_millis=0)
        for pos, n_del, ins in utf8:
            with doc.transaction():
                if n_del:
                    del text[pos : pos + n_del]
                if ins:
                    text.insert(pos, ins)
        return doc, text, um

    def undo(state: object) -> str:
        _, text, um = state  # type: ignore[misc]
        for _ in range(steps):
            um.undo()
        return str(text)

    return replay, undo


def loro_run(patches: Sequence[Patch], steps: int) -> tuple[Callable[[], object], Callable[[object], str]]:
    from loro import LoroDoc, UndoManager

    def replay() -> object:
        doc = LoroDoc()
        text = doc.get_text("text")
        um = UndoManager(doc)
        um.set_merge_interval(0)
        um.set_max_undo_steps(steps + 10)
        for pos, n_del, ins in patches:
            if n_del:
                text.delete(pos, n_del)
            if ins:
                text.insert(pos, ins)
            doc.commit()
        return doc, text, um

    def undo(state: object) -> str:
        _, text, um = state  # type: ignore[misc]
        for _ in range(steps):
            um.undo()
        return str(text.to_string())

    return replay, undo


ENGINES = {"cowrite": cowrite_run, "pycrdt": pycrdt_run, "loro": loro_run}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args(argv)
    rows = []
    for name in TRACES:
        trace = load_trace(name)
        patches = trace.flat_patches()
        expect = apply_patches_to_str("", patches[: len(patches) - args.steps])
        res: dict[str, tuple[float, float]] = {}
        for eng, make in ENGINES.items():
            try:
                replay, undo = make(patches, args.steps)
            except ImportError as exc:
                print(f"{eng}: not installed ({exc})", file=sys.stderr)
                continue
            t_replay, state = best_of(replay, args.repeat)
            # undo mutates the doc: each repetition gets a fresh replay, untimed
            times = []
            for _ in range(max(1, args.repeat)):
                state = replay()
                t, text = best_of(lambda: undo(state), 1)
                if text != expect:
                    print(f"{eng} {name}: wrong text after {args.steps} undos", file=sys.stderr)
                    return 1
                times.append(t.best)
            res[eng] = (t_replay.best, min(times))
            print(f"{name:22} {eng:8} replay {t_replay.best:8.3f}s  undo {min(times) * 1e3:8.1f}ms", file=sys.stderr)
        rows.append((name, len(patches), res))
    table = render(rows, args)
    print(table)
    if args.write:
        write(args.write, table)
    return 0


def render(rows: list[tuple[str, int, dict[str, tuple[float, float]]]], args: argparse.Namespace) -> str:
    from importlib.metadata import version

    lines = [
        START,
        f"### Undo (bench/undo.py, {datetime.date.today()}, {cpu_model()}, "
        f"pycrdt {version('pycrdt')}, loro {version('loro')})",
        "",
        f"Replay with an undo manager attached (every patch its own step), then undo the last "
        f"{args.steps} steps. Best of {args.repeat}. Ratios are cowrite / peer (lower is better for cowrite).",
        "",
        "| trace | patches | cowrite replay | ×pycrdt | ×loro | cowrite undo | ×pycrdt | ×loro |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, res in rows:
        c = res.get("cowrite")
        if c is None:
            continue

        def ratio(eng: str, k: int) -> str:
            return f"{c[k] / res[eng][k]:.2f}" if eng in res else "n/a"

        lines.append(
            f"| {name} | {n} | {c[0]:.3f} s | {ratio('pycrdt', 0)} | {ratio('loro', 0)} "
            f"| {c[1] * 1e3:.1f} ms | {ratio('pycrdt', 1)} | {ratio('loro', 1)} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write(path: Path, table: str) -> None:
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + table + tail
    else:
        text = text.rstrip("\n") + "\n\n" + table + "\n"
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
