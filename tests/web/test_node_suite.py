"""Run the JavaScript test suite (``web/test``, Node's built-in runner) as part of pytest.

The browser is a full peer running a JS port of the engine; its own tests read
the shared vectors in ``testdata/vectors``.  Running them from pytest keeps the
README's one test command the whole story (Node missing: see ``node.py``).
"""

from __future__ import annotations

import subprocess

import pytest

from .node import WEB, node_or_skip


def test_node_suite() -> None:
    node = node_or_skip()
    # Only ``*.test.mjs`` files are tests: Node 20 given a directory would also run
    # helper scripts (such as the differential fuzzer's driver) as tests.
    files = sorted(str(p.relative_to(WEB)) for p in (WEB / "test").rglob("*.test.mjs"))
    assert files, "web/test holds no *.test.mjs files"
    proc = subprocess.run(
        # A test left with open timers (a failure before its clean-up) must fail, not hang
        # the suite: each test has a time limit, and a file's process exits when its tests end.
        [node, "--test", "--test-force-exit", "--test-timeout=300000", "--test-reporter=spec", *files],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-20000:]
        pytest.fail(f"node --test failed (exit {proc.returncode}):\n{tail}")
