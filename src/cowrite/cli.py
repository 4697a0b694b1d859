"""The ``cowrite`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .engine import CowriteError

__all__ = ["main"]


def _cmd_replay(args: argparse.Namespace) -> int:
    from .replay import TraceError, load_trace, replay

    t0 = time.perf_counter()
    try:
        trace = load_trace(args.file)
        t1 = time.perf_counter()
        text = replay(trace)
    except (TraceError, CowriteError) as exc:
        print(f"cowrite replay: error: {exc}", file=sys.stderr)
        return 1
    t2 = time.perf_counter()
    out = sys.stdout.buffer
    out.write(text.encode("utf-8"))
    out.flush()
    if args.stats:
        print(
            f"parse {1000 * (t1 - t0):.1f} ms, replay {1000 * (t2 - t1):.1f} ms, "
            f"{len(trace.txns)} txns, {len(text)} chars",
            file=sys.stderr,
        )
    if args.check:
        if trace.end_content is None:
            print("cowrite replay: error: the trace has no endContent to check", file=sys.stderr)
            return 1
        if text != trace.end_content:
            print("cowrite replay: error: the result differs from endContent", file=sys.stderr)
            return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cowrite", description="Real-time collaborative text editing.")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="replay an editing trace and print the final text")
    rp.add_argument("file", help="trace file (.json or .json.gz), sequential or concurrent")
    rp.add_argument("--check", action="store_true", help="compare the result with the trace's endContent")
    rp.add_argument("--stats", action="store_true", help="print timings to stderr")
    rp.set_defaults(func=_cmd_replay)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. `cowrite replay f | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
