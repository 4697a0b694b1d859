"""Where the JS side lives and how to reach Node, for the tests that run it.

Without Node (or without ``web/node_modules``) these tests skip with the reason
shown, except in CI (``CI=true``), where that is a failure: .ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules").is_dir():
        reason = "node is not installed" if node is None else "web/node_modules is missing (cd web && npm ci)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; .ci/run installs it")
        pytest.skip(reason)
    return node
