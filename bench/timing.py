"""Timing primitives shared by every benchmark, so all peers are measured the same way.

Best of K: the minimum is the run least disturbed by the rest of the machine, which is
what a comparison between engines needs.  Garbage collection is handled identically
for every peer: a full ``gc.collect()`` before each repetition (so one peer doesn't pay
for another's garbage) and, by default, the collector left enabled during the run,
because a pure-Python engine really pays for it in use.  ``gc_enabled=False`` disables
it inside the timed region, as ``timeit`` does.
"""

from __future__ import annotations

import gc
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """All repetitions of one measurement, in seconds."""

    runs: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.runs)


def best_of(
    fn: Callable[[], T], repeat: int, gc_enabled: bool = True
) -> tuple[Timing, T]:
    """Call ``fn`` ``repeat`` times; return the timings and the last result.

    The previous result is dropped before the next run starts, so a run never shares
    the heap with the doc built by the run before it.
    """
    runs: list[float] = []
    result: T | None = None
    for _ in range(max(1, repeat)):
        result = None
        gc.collect()
        was_enabled = gc.isenabled()
        if not gc_enabled:
            gc.disable()
        try:
            t0 = time.perf_counter()
            result = fn()
            t1 = time.perf_counter()
        finally:
            if was_enabled:
                gc.enable()
        runs.append(t1 - t0)
    assert result is not None
    return Timing(tuple(runs)), result


def time_process(
    argv: Sequence[str], repeat: int, env: dict[str, str] | None = None
) -> tuple[Timing, bytes]:
    """Wall time of running ``argv`` to completion, best of ``repeat``; returns its stdout.

    Every peer is timed as installed: pip byte-compiles a package's modules when it
    installs it, so the runs may write and read bytecode caches
    (``PYTHONDONTWRITEBYTECODE`` is dropped) and one untimed run first writes them and
    warms the file cache.  Otherwise a source checkout (cowrite in development) pays
    for compiling its modules on every run and an installed wheel does not.

    Raises ``subprocess.CalledProcessError`` (with stderr) when the command fails.
    """
    runs: list[float] = []
    out = b""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(list(argv), capture_output=True, env=full_env, check=False)  # warm-up, untimed
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        proc = subprocess.run(
            list(argv), capture_output=True, env=full_env, check=False
        )
        t1 = time.perf_counter()
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(
                proc.returncode, argv, proc.stdout, proc.stderr
            )
        runs.append(t1 - t0)
        out = proc.stdout
    return Timing(tuple(runs)), out
