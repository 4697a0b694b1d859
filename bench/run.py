"""Run cowrite and its peers on the same traces, in one process, and report side by side.

    python bench/run.py [--quick] [--only a,b,...] [--json out.json] [--write BENCHMARKS.md]

``--only`` takes any mix of peer names (cowrite, pycrdt, loro), benchmark names (local,
incremental, bulk, load, size, memory, process) and trace names (automerge-paper,
concurrent/clownschool, ...); each kind given narrows that kind.  Every peer's final
text is checked against the trace's ``endContent``; a mismatch shows as WRONG and makes
the exit status 1, as does any exception (printed, never swallowed).  A peer that
can't run here (not installed, or cowrite not written yet) is skipped with its reason.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_info
from peers import (
    BENCH_DIR,
    PEER_MODULES,
    REPLAY_SCRIPT,
    Peer,
    PeerUnavailable,
    TimedFn,
    get_peer,
)
from report import (
    BASELINE,
    BENCHES,
    ERROR,
    OK,
    SKIP,
    WRONG,
    Record,
    markdown_section,
    text_report,
    write_section,
)
from timing import best_of, time_process
from traces import REPO_ROOT, Trace, all_trace_paths, load_trace, trace_label

SRC_DIR = REPO_ROOT / "src"
MEMPROBE = BENCH_DIR / "memprobe.py"


@dataclass(frozen=True)
class Cell:
    """Which table cell a measurement fills: benchmark x trace x peer variant."""

    bench: str
    trace: Trace
    peer: Peer
    variant: str = ""

    def record(
        self, value: float | None = None, status: str = OK, note: str = "", **kw: Any
    ) -> Record:
        return Record(
            self.bench,
            self.trace.name,
            self.peer.name,
            self.variant,
            value,
            status,
            note,
            **kw,
        )


class Runner:
    """Holds the settings and collects :class:`Record` objects as benchmarks run."""

    def __init__(
        self, args: argparse.Namespace, peers: list[Peer], benches: set[str]
    ) -> None:
        self.args = args
        self.peers = peers
        self.benches = benches
        self.records: list[Record] = []
        self.failed = False
        pythonpath = filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")])
        self.env = {"PYTHONPATH": os.pathsep.join(pythonpath)}

    # --- bookkeeping -----------------------------------------------------------------

    def add(self, rec: Record) -> Record:
        self.records.append(rec)
        if rec.status in (WRONG, ERROR):
            self.failed = True
        spec = BENCHES[rec.bench]
        shown = (
            f"{spec.fmt.format(spec.display(rec))} {spec.unit}"
            if rec.status == OK
            else rec.note
        )
        print(
            f"  {rec.bench:<11} {rec.trace:<28} {rec.label:<24} {rec.status:<5} {shown}",
            flush=True,
        )
        return rec

    def guarded(self, cell: Cell, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, or None after recording PeerUnavailable as a skip, errors as errors."""
        try:
            return fn(*args)
        except PeerUnavailable as exc:
            self.add(cell.record(status=SKIP, note=str(exc)))
        except Exception as exc:  # noqa: BLE001 - recorded and printed; the run goes on
            traceback.print_exc()
            self.add(cell.record(status=ERROR, note=f"{type(exc).__name__}: {exc}"))
        return None

    def measure(self, cell: Cell, prepare: Callable[..., TimedFn], *args: Any) -> Any:
        """Prepare (untimed), then time the callable if its benchmark is selected (else just
        run it once, for the doc); check and record the text.  Returns the doc or None."""
        return self.guarded(cell, self._measure, cell, prepare, *args)

    def _measure(self, cell: Cell, prepare: Callable[..., TimedFn], *args: Any) -> Any:
        fn = prepare(*args)
        if cell.bench not in self.benches:
            return fn()[1]
        timing, (text, doc) = best_of(
            fn, self.args.repeat, gc_enabled=self.args.gc == "on"
        )
        end = cell.trace.end_content
        ok = text == end
        note = (
            ""
            if ok
            else f"final text differs from endContent ({len(text)} vs {len(end)} chars)"
        )
        self.add(
            cell.record(
                timing.best,
                OK if ok else WRONG,
                note,
                patches=cell.trace.num_patches,
                runs=list(timing.runs),
            )
        )
        return doc

    # --- benchmarks ------------------------------------------------------------------

    def sequential(self, trace: Trace, peer: Peer) -> Any:
        """Local replay (each variant); returns the default variant's doc for encoding."""
        doc = None
        for variant in peer.local_variants:
            if variant and "local" not in self.benches:
                continue
            d = self.measure(
                Cell("local", trace, peer, variant),
                peer.prepare_local_replay,
                trace,
                variant,
            )
            if not variant:
                doc = d
        return doc

    def concurrent(self, trace: Trace, peer: Peer) -> Any:
        """Generate per-txn updates (untimed), time incremental and bulk merges."""
        cell = Cell("incremental", trace, peer)
        updates = self.guarded(cell, peer.make_txn_updates, trace)
        if updates is None:
            return None
        doc = self.measure(cell, peer.prepare_incremental_merge, updates)
        if doc is None or "bulk" not in self.benches:
            return doc
        blobs = self.guarded(
            Cell("bulk", trace, peer), peer.make_agent_blobs, trace, updates, doc
        )
        if blobs is not None:
            for variant in peer.bulk_variants:
                self.measure(
                    Cell("bulk", trace, peer, variant),
                    peer.prepare_bulk_merge,
                    blobs,
                    variant,
                )
        return doc

    def encoded(self, trace: Trace, peer: Peer, doc: Any) -> None:
        """Size, load time and memory of the full-history encoding (each variant)."""
        for variant in peer.encode_variants:
            blob = self.guarded(
                Cell("size", trace, peer, variant), peer.encode_full, doc, variant
            )
            if blob is None:
                continue
            if "size" in self.benches:
                self.add(Cell("size", trace, peer, variant).record(float(len(blob))))
            if "load" in self.benches:
                self.measure(
                    Cell("load", trace, peer, variant), peer.prepare_load, blob, variant
                )
            if "memory" in self.benches:
                cell = Cell("memory", trace, peer, variant)
                self.guarded(cell, self.memory, cell, blob)

    def memory(self, cell: Cell, blob: bytes) -> None:
        """Run the memory probe on ``blob`` in a fresh interpreter and record its figure."""
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(blob)
            f.flush()
            argv = [
                sys.executable,
                str(MEMPROBE),
                cell.peer.name,
                cell.variant,
                f.name,
                str(self.args.mem_copies),
            ]
            proc = subprocess.run(
                argv, capture_output=True, text=True, env={**os.environ, **self.env}
            )
        if proc.returncode != 0:
            raise RuntimeError(
                f"memprobe failed: {proc.stderr.strip() or proc.stdout.strip()}"
            )
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        self.add(cell.record(float(res["per_doc"]), note=f"N={self.args.mem_copies}"))

    def process(self, trace: Trace) -> None:
        """Whole-process replay of the trace file by each peer, plus the parse-only floor."""
        assert trace.path is not None
        jobs: list[tuple[str, str, list[str] | str]] = [
            (
                BASELINE,
                "",
                [sys.executable, str(REPLAY_SCRIPT), "none", str(trace.path)],
            )
        ]
        for peer in self.peers:
            jobs += [
                (peer.name, v, cmd)
                for v, cmd in peer.replay_commands(trace.path).items()
            ]
        for name, variant, cmd in jobs:
            if isinstance(cmd, str):
                self.add(
                    Record("process", trace.name, name, variant, status=SKIP, note=cmd)
                )
                continue
            try:
                timing, out = time_process(cmd, self.args.process_repeat, self.env)
            except subprocess.CalledProcessError as exc:
                err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
                note = err[-1] if err else f"exit {exc.returncode}"
                self.add(
                    Record(
                        "process", trace.name, name, variant, status=ERROR, note=note
                    )
                )
                continue
            printed = out.decode("utf-8", errors="replace")
            ok = printed in (
                trace.end_content,
                trace.end_content + "\n",
            )  # print() may add one
            note = "" if ok else "printed text differs from endContent"
            self.add(
                Record(
                    "process",
                    trace.name,
                    name,
                    variant,
                    timing.best,
                    OK if ok else WRONG,
                    note,
                    runs=list(timing.runs),
                )
            )

    def run_trace(self, trace: Trace) -> None:
        for peer in self.peers:
            doc = (
                self.sequential(trace, peer)
                if not trace.is_concurrent
                else self.concurrent(trace, peer)
            )
            if doc is not None and self.benches & {"size", "load", "memory"}:
                self.encoded(trace, peer, doc)
            doc = None  # free this peer's doc before the next peer is timed
        if (
            not trace.is_concurrent
            and "process" in self.benches
            and self.process_traces(trace)
        ):
            self.process(trace)

    def process_traces(self, trace: Trace) -> bool:
        """--quick runs the whole-process benchmark on one trace only (it's the slowest),
        unless traces were named with --only."""
        return (
            not self.args.quick
            or self.args.traces_named
            or trace.name == "automerge-paper"
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="1 repetition, fewer memory copies, process bench on one trace",
    )
    ap.add_argument(
        "--only", default="", help="comma list of peers, benchmarks and/or traces"
    )
    ap.add_argument(
        "--json", type=Path, help="write all records and machine info as JSON"
    )
    ap.add_argument(
        "--write", type=Path, help="replace the generated section of this markdown file"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        help="repetitions per timing, best taken (default 3; quick 1)",
    )
    ap.add_argument(
        "--process-repeat",
        type=int,
        help="repetitions of whole-process runs (default 3; quick 1)",
    )
    ap.add_argument(
        "--mem-copies",
        type=int,
        help="docs kept alive by the memory probe (default 8; quick 3)",
    )
    ap.add_argument(
        "--gc",
        choices=("on", "off"),
        default="on",
        help="collector during timed runs (default on)",
    )
    args = ap.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.process_repeat = args.process_repeat or (1 if args.quick else 3)
    args.mem_copies = args.mem_copies or (3 if args.quick else 8)
    return args


def select(only: str) -> tuple[list[str], set[str], list[Path]]:
    """Split ``--only`` into peers, benchmarks and traces; an empty kind means all."""
    paths = all_trace_paths()
    labels = {trace_label(p): p for p in paths}
    peers, benches, traces = [], set(), []
    for tok in filter(None, (t.strip() for t in only.split(","))):
        if tok in PEER_MODULES:
            peers.append(tok)
        elif tok in BENCHES:
            benches.add(tok)
        elif tok in labels:
            traces.append(labels[tok])
        else:
            known = ", ".join([*PEER_MODULES, *BENCHES, *labels])
            raise SystemExit(
                f"--only: {tok!r} is not a peer, benchmark or trace ({known})"
            )
    return peers or list(PEER_MODULES), benches or set(BENCHES), traces or paths


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    peer_names, benches, paths = select(args.only)
    args.traces_named = len(paths) < len(all_trace_paths())
    peers: list[Peer] = []
    versions: dict[str, str] = {}
    skipped: list[str] = []
    for name in peer_names:
        peer = get_peer(name)
        reason = peer.unavailable_reason()
        if reason:
            print(f"SKIP {name}: {reason}", file=sys.stderr)
            skipped.append(f"{name}: {reason}")
            continue
        peers.append(peer)
        versions[name] = peer.version()
    runner = Runner(args, peers, benches)
    for path in paths:
        trace = load_trace(path)
        print(
            f"{trace.name}: {trace.kind}, {len(trace.txns):,} txns, {trace.num_patches:,} patches",
            flush=True,
        )
        runner.run_trace(trace)

    info = machine_info(versions)
    today = datetime.date.today().isoformat()
    header = [
        "## Results",
        "",
        f"Generated {today} by `python bench/run.py{' ' + ' '.join(argv) if argv else ''}`.",
        f"Machine: {info['cpu']}, {info['cores']} cores; {info['python']}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ".",
        f"Timing: best of {args.repeat} (whole-process: best of {args.process_repeat}), "
        f"gc.collect() before each run, collector {args.gc} while timed; memory: {args.mem_copies} docs kept alive. "
        "Ratios are cowrite / peer: above 1x cowrite is slower or bigger.",
    ]
    footer = [f"- {n}" for peer in peers for n in peer.notes()]
    footer += [f"- Not run: {s}" for s in skipped]
    footer = ["Notes:", ""] + footer + [""] if footer else []
    print()
    print(text_report(runner.records))
    print()
    section = markdown_section(runner.records, header, footer)
    print(section)
    if args.write:
        write_section(args.write, section)
    if args.json:
        settings = {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
        }
        payload = {
            "date": today,
            "machine": info,
            "args": settings,
            "records": [r.to_json() for r in runner.records],
        }
        args.json.write_text(json.dumps(payload, indent=1))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
