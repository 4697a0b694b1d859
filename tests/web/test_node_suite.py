"""Run the JavaScript test suite (``web/test``, Node's built-in runner) as part of pytest.

The browser is a full peer running a JS port of the engine; its own tests read
the shared vectors in ``testdata/vectors``.  Running them from pytest keeps the
README's one test command the whole story.  Without Node the test is skipped with
the reason shown, except in CI (``CI=true``), where a missing Node is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules").is_dir():
        reason = "node is not installed" if node is None else "web/node_modules is missing (cd web && npm ci)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; .ci/run installs it")
        pytest.skip(reason)
    return node


def test_node_suite() -> None:
    node = _node()
    # Only ``*.test.mjs`` files are tests: Node 20 given a directory would also run
    # helper scripts (such as the differential fuzzer's driver) as tests.
    files = sorted(str(p.relative_to(WEB)) for p in (WEB / "test").rglob("*.test.mjs"))
    assert files, "web/test holds no *.test.mjs files"
    proc = subprocess.run(
        [node, "--test", "--test-reporter=spec", *files],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-20000:]
        pytest.fail(f"node --test failed (exit {proc.returncode}):\n{tail}")
