"""The benchmark loop: runs each selected benchmark for each trace x peer, checks every
final text against the trace's ``endContent``, and collects :class:`report.Record` s.

Errors are recorded *and* printed with their traceback, never swallowed: a wrong text or
an exception marks the run failed (``Runner.failed``) while the other peers go on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peers import BENCH_DIR, REPLAY_SCRIPT, Peer, PeerUnavailable, TimedFn
from report import BASELINE, BENCHES, ERROR, OK, SKIP, WRONG, Record
from timing import best_of, time_process
from traces import REPO_ROOT, Trace

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
            env = {**os.environ, **self.env}
            proc = subprocess.run(
                argv, capture_output=True, text=True, env=env, check=False
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
