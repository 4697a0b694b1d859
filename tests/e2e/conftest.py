"""Real headless Chromium (Debian's ``chromium``) against a real ``cowrite serve``.

Playwright for Python drives ``/usr/bin/chromium`` (``executable_path``): the
browser Playwright would download cannot be fetched here.  Without Chromium the
tests are skipped with the reason shown, except in CI, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.harness import ServerProcess

CHROMIUM = os.environ.get("COWRITE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("COWRITE_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _need(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; .ci/run installs it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    _need(Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _need(False, "playwright for Python is not installed")
    bundle = Path(__file__).resolve().parents[2] / "src" / "cowrite" / "server" / "static" / "app.js"
    _need(bundle.exists() or shutil.which("node") is not None, "the web bundle is not built")
    return CHROMIUM


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "web.db")
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
