"""The service worker that keeps the app shell for opening documents offline: served
from the root (its scope is every page), never left to an HTTP cache, under a CSP of
its own; the pages' CSP lets it run."""

from __future__ import annotations

import re

from conftest import Harness

from cowrite.server.web import STATIC_DIR


def test_the_worker_is_served_from_the_root_uncached_with_its_own_csp(harness: Harness) -> None:
    r = harness.http.get("/sw.js")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.content == (STATIC_DIR / "sw.js").read_bytes()
    assert r.headers["cache-control"] == "no-cache"  # a deploy's worker is found at the next load
    assert r.headers["service-worker-allowed"] == "/"
    assert r.headers["x-content-type-options"] == "nosniff"
    directives = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert directives["default-src"] == "'self'"
    assert harness.http.head("/sw.js").status_code == 200


def test_the_pages_let_their_own_worker_run(harness: Harness) -> None:
    for url in ("/", "/d/notes", "/d/notes/history", "/static/editor.html"):
        csp = harness.http.get(url).headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["worker-src"] == "'self'", url


def test_the_built_worker_names_its_cache_after_the_build() -> None:
    """build.mjs puts a hash of the shell into the worker, so a deploy replaces the cache."""
    source = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    assert re.search(r'"cowrite-shell-"', source)
    assert re.search(r'"[0-9a-f]{16}"', source), "SHELL_VERSION was not filled in"
    for path in ("/static/editor.html", "/static/app.js", "/static/app.css"):
        assert path in source
