"""The ``cowrite`` command as a user runs it: a real subprocess."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "cowrite.cli", *args], capture_output=True, timeout=120)


def write(tmp_path: Path, obj: object, name: str = "t.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(obj))
    return p


def test_sequential_prints_exact_text(tmp_path: Path) -> None:
    trace = {"txns": [{"patches": [[0, 0, "héllo 👋"]]}, {"patches": [[1, 1, "e"], [6, 1, "🌍\n"]]}], "endContent": "hello 🌍\n"}
    r = run("replay", "--check", str(write(tmp_path, trace)))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello 🌍\n".encode()  # no added newline, UTF-8


def test_concurrent_gz(tmp_path: Path) -> None:
    trace = {
        "kind": "concurrent",
        "numAgents": 2,
        "endContent": "ab xy",
        "txns": [
            {"parents": [], "agent": 0, "patches": [[0, 0, " "]]},
            {"parents": [0], "agent": 0, "patches": [[0, 0, "ab"]]},
            {"parents": [0], "agent": 1, "patches": [[1, 0, "xy"]]},
        ],
    }
    p = tmp_path / "c.json.gz"
    p.write_bytes(gzip.compress(json.dumps(trace).encode()))
    r = run("replay", "--check", "--stats", str(p))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"ab xy"
    assert b"replay" in r.stderr


def test_check_detects_mismatch(tmp_path: Path) -> None:
    r = run("replay", "--check", str(write(tmp_path, {"txns": [{"patches": [[0, 0, "a"]]}], "endContent": "b"})))
    assert r.returncode != 0
    assert b"differs" in r.stderr


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"txns": 5}',
        b'{"txns": [{"patches": [[5, 0, "x"]]}]}',  # past the end
        b'{"txns": [{"patches": [[0, 3, ""]]}]}',  # deletes nothing that exists
        b'{"txns": [{"patches": [[0, "a", ""]]}]}',
        b'{"txns": [{"patches": [[-1, 0, "x"]]}]}',
        b'{"txns": [{"nopatches": 1}]}',
        b'{"kind": "concurrent", "txns": [{"parents": [3], "agent": 0, "patches": [[0, 0, "x"]]}]}',
        b'{"kind": "concurrent", "txns": [{"parents": [], "agent": 0, "patches": [[2, 0, "x"]]}]}',
        b'{"kind": "concurrent", "txns": [{"parents": [], "agent": 0, "patches": [[0, 0, "ab"]]},'
        b' {"parents": [0], "agent": 1, "patches": [[1, 5, ""]]}]}',
        b"\x1f\x8b garbage",
    ],
)
def test_malformed_input_gives_one_line_error(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    r = run("replay", str(p))
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert r.stdout == b""


def test_missing_file() -> None:
    r = run("replay", "/nonexistent/trace.json")
    assert r.returncode != 0
    assert b"Traceback" not in r.stderr
