"""``cowrite serve`` with a planted bug, for tests: run as ``python faulty_server.py serve ...``.

``Document.add_ops`` raises ``RuntimeError("planted fault #n")`` on a random share
(``$FAULT_RATE``, seeded by ``$FAULT_SEED``) of the calls the server's rooms make
(``cowrite.protocol.server``; loading from the store is left alone, or the room
could never be reloaded).  Half of the faults strike *after* the ops were applied:
the room's document then holds ops that were never stored, which is what a bug
in a merge can leave behind.  ``SIGUSR1`` removes the fault and prints
``PLANTED FAULTS: <n>``.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from collections.abc import Iterable
from types import FrameType
from typing import Any

from cowrite.cli import main
from cowrite.engine import Document, Op


def install(seed: int, rate: float) -> None:
    rng = random.Random(seed)
    real = Document.add_ops
    state = {"on": True, "planted": 0}

    def add_ops(self: Document, ops: Iterable[Op]) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__")
        if state["on"] and caller == "cowrite.protocol.server" and rng.random() < rate:
            if rng.random() < 0.5:
                # A refusal of the ops themselves (a CowriteError: e.g. a parent this
                # reloaded room lacks) propagates as it would: no fault was planted then.
                real(self, ops)
                state["planted"] += 1
                raise RuntimeError(f"planted fault #{state['planted']} (after the ops were applied)")
            state["planted"] += 1
            raise RuntimeError(f"planted fault #{state['planted']}")
        return real(self, ops)

    def remove(signum: int, frame: FrameType | None) -> None:
        state["on"] = False
        print(f"PLANTED FAULTS: {state['planted']}", flush=True)

    Document.add_ops = add_ops  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, remove)


if __name__ == "__main__":
    install(int(os.environ["FAULT_SEED"]), float(os.environ["FAULT_RATE"]))
    sys.exit(main(sys.argv[1:]))
