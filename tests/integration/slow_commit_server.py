"""``cowrite serve`` whose commits are slow, for tests: ``python slow_commit_server.py serve ...``.

Every ``PostgresStore.append`` first sleeps ``$SLOW_APPEND`` seconds (in the worker
thread the server runs it in), so that a test can act -- e.g. send SIGTERM -- while a
commit is certainly in flight.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from cowrite.cli import main
from cowrite.store.postgres import PostgresStore


def install(delay: float) -> None:
    real = PostgresStore.append

    def append(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
        time.sleep(delay)
        return real(self, *args, **kwargs)

    PostgresStore.append = append  # type: ignore[method-assign]


if __name__ == "__main__":
    install(float(os.environ["SLOW_APPEND"]))
    sys.exit(main(sys.argv[1:]))
