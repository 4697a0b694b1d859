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


# -- the server's secret ------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    from cowrite.cli import main

    monkeypatch.delenv("COWRITE_SECRET", raising=False)
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(
    "content", [b"", b"x", b"  \n", b"s" * 31, b"\n" + b"s" * 31 + b"\n"], ids=["empty", "1-byte", "blank", "31-bytes", "31-padded"]
)
@pytest.mark.parametrize("command", ["serve", "token"])
def test_a_secret_file_under_32_bytes_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, content: bytes, command: str
) -> None:
    """A short secret signs tokens anyone can forge; an empty one used to crash `serve`."""
    db = tmp_path / "c.db"
    (tmp_path / "c.db.secret").write_bytes(content)
    # (a host that cannot be bound: if the secret were taken, serve would stop there)
    extra = ["--user", "ann"] if command == "token" else ["--host", "256.256.256.256"]
    rc, out, err = _cli(capsys, monkeypatch, command, "--db", str(db), *extra)
    assert rc == 1
    assert out == ""  # no token was printed
    assert err.startswith(f"cowrite {command}: error: the secret file ") and "at least 32 bytes" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_secret_file_of_32_bytes_signs_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cowrite.server import verify_token

    db = tmp_path / "c.db"
    (tmp_path / "c.db.secret").write_bytes(b"k" * 32 + b"\n")
    rc, out, err = _cli(capsys, monkeypatch, "token", "--db", str(db), "--user", "ann")
    assert rc == 0, err
    assert verify_token(b"k" * 32, out.strip()).user == "ann"


def test_an_unreadable_secret_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "c.db"
    (tmp_path / "c.db.secret").mkdir()  # a directory where the file should be
    rc, out, err = _cli(capsys, monkeypatch, "token", "--db", str(db), "--user", "ann")
    assert rc == 1 and out == ""
    assert err.startswith("cowrite token: error: cannot read the secret file ") and "Traceback" not in err


@pytest.mark.parametrize("content", [b"", b"x"], ids=["empty", "1-byte"])
def test_cowrite_serve_refuses_a_short_secret_file_as_a_process(tmp_path: Path, content: bytes) -> None:
    import os

    db = tmp_path / "c.db"
    (tmp_path / "c.db.secret").write_bytes(content)
    env = {k: v for k, v in os.environ.items() if k != "COWRITE_SECRET"}
    for args in (("serve", "--host", "256.256.256.256"), ("token", "--user", "ann")):
        r = subprocess.run(
            [sys.executable, "-m", "cowrite.cli", *args, "--db", str(db)], capture_output=True, timeout=60, env=env
        )
        err = r.stderr.decode()
        assert r.returncode == 1, err
        assert r.stdout == b""
        assert err.startswith(f"cowrite {args[0]}: error: the secret file ") and "Traceback" not in err, err


@pytest.mark.parametrize(
    "limit, message",
    [("nope=1", "NAME=VALUE"), ("max_batch_ops", "NAME=VALUE"), ("max_batch_ops=x", "needs a number"), ("max_batch_ops=0", "positive")],
)
def test_bad_limits_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, limit: str, message: str
) -> None:
    monkeypatch.setenv("COWRITE_SECRET", "s" * 40)
    from cowrite.cli import main

    rc = main(["serve", "--db", str(tmp_path / "c.db"), "--host", "256.256.256.256", "--limit", limit])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("cowrite serve: error: ") and message in err, err
