"""``cowrite user ...``: accounts from the command line (passwords from a prompt or stdin, never argv)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import argon2
import pytest

import cowrite.accounts.passwords
from cowrite import cli
from cowrite.accounts import Accounts, Passwords, SignInFailed, SignUpRefused
from cowrite.store import SQLiteStore

CHEAP = argon2.Parameters(
    type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=8, parallelism=1
)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs hash cheaply; the subprocess test below uses the real parameters."""
    monkeypatch.setattr(cowrite.accounts.passwords, "RFC_9106", CHEAP)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "team.db"


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def sign_in(db: Path, username: str, password: str) -> None:
    with SQLiteStore(db) as store:
        Accounts(store, hasher=Passwords(CHEAP)).sign_in(username, password, "127.0.0.1")


def test_add_list_and_sign_in(db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(monkeypatch, capsys, "user", "add", "Ada", "--admin", "--name", "Ada Lovelace", "--db", str(db), stdin="correct horse\n")
    assert code == 0, err
    assert "added administrator 'ada'" in err and out == ""
    assert run(monkeypatch, capsys, "user", "add", "bob", "--db", str(db), stdin="bobs password\r\n")[0] == 0
    code, out, _ = run(monkeypatch, capsys, "user", "list", "--db", str(db))
    assert code == 0
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(l[0], l[1], l[3]) for l in lines] == [("ada", "admin", "Ada Lovelace"), ("bob", "-", "bob")]
    sign_in(db, "ada", "correct horse")  # the newline is not part of the password
    sign_in(db, "bob", "bobs password")


def test_refusals_have_clear_errors_and_store_nothing(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, capsys, "user", "add", "ada", "--db", str(db), stdin="correct horse\n")[0] == 0
    cases = [
        (("user", "add", "ADA"), "correct horse\n", "'ada' is taken"),
        (("user", "add", "bob"), "short\n", "8..1024"),
        (("user", "add", "bob"), "", "no password"),
        (("user", "add", "bad name"), "correct horse\n", "username"),
        (("user", "add", "guest-1"), "correct horse\n", "reserved"),
        (("user", "add", "a'; DROP TABLE accounts; --"), "correct horse\n", "username"),
        (("user", "passwd", "nobody"), "correct horse\n", "no account 'nobody'"),
        (("user", "disable", "nobody"), "", "no account 'nobody'"),
        (("user", "enable", "nobody"), "", "no account 'nobody'"),
        (("user", "invite", "--ttl", "0"), "", "ttl"),
    ]
    for args, stdin, message in cases:
        code, out, err = run(monkeypatch, capsys, *args, "--db", str(db), stdin=stdin)
        assert code == 1, args
        assert f"cowrite user {args[1]}: error:" in err and message in err, err
        assert out == ""
    code, out, _ = run(monkeypatch, capsys, "user", "list", "--db", str(db))
    assert [l.split("\t")[0] for l in out.splitlines()] == ["ada"]


def test_a_password_is_never_taken_from_argv(db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["user", "add", "ada", "--password", "correct horse", "--db", str(db)])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["user", "add", "ada", "correct horse", "--db", str(db)])
    assert not db.exists()  # refused before the store was opened


def test_prompt_asks_twice_on_a_terminal(db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers: list[str] = []
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ") -> str:
        prompts.append(prompt)
        return answers.pop(0)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    monkeypatch.setattr(sys, "stdin", Tty("this line is not read\n"))
    answers[:] = ["correct horse", "correct hors"]
    assert cli.main(["user", "add", "ada", "--db", str(db)]) == 1
    assert "the two passwords differ" in capsys.readouterr().err
    assert prompts == ["Password: ", "Again: "]
    answers[:] = ["correct horse", "correct horse"]
    assert cli.main(["user", "add", "ada", "--db", str(db)]) == 0
    sign_in(db, "ada", "correct horse")
    answers[:] = ["new password!", "new password!"]
    assert cli.main(["user", "passwd", "ada", "--db", str(db)]) == 0
    assert "sessions are signed out" in capsys.readouterr().err
    sign_in(db, "ada", "new password!")
    with pytest.raises(SignInFailed):
        sign_in(db, "ada", "correct horse")


def test_passwd_disable_enable_revoke_sessions(db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(monkeypatch, capsys, "user", "add", "ada", "--db", str(db), stdin="correct horse\n")[0] == 0
    with SQLiteStore(db) as store:
        sid, _ = Accounts(store, hasher=Passwords(CHEAP)).sign_in("ada", "correct horse", "::1")
    assert run(monkeypatch, capsys, "user", "disable", "ADA", "--db", str(db))[0] == 0
    with SQLiteStore(db) as store:
        accounts = Accounts(store, hasher=Passwords(CHEAP))
        assert accounts.session(sid) is None
        with pytest.raises(SignInFailed):
            accounts.sign_in("ada", "correct horse", "::1")
    code, out, _ = run(monkeypatch, capsys, "user", "list", "--db", str(db))
    assert out.split("\t")[1] == "disabled"
    assert run(monkeypatch, capsys, "user", "enable", "ada", "--db", str(db))[0] == 0
    sign_in(db, "ada", "correct horse")
    assert run(monkeypatch, capsys, "user", "passwd", "ada", "--db", str(db), stdin="another one\n")[0] == 0
    sign_in(db, "ada", "another one")


def test_invite_prints_a_code_that_signs_up_once(db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(monkeypatch, capsys, "user", "invite", "--ttl", "3600", "--db", str(db))
    assert code == 0, err
    invite = out.strip()
    assert len(invite) == 43 and out == invite + "\n"  # only the code on stdout: scripts capture it
    with SQLiteStore(db) as store:
        accounts = Accounts(store, hasher=Passwords(CHEAP))
        [info] = accounts.invites()
        assert info.created_by == "(command line)" and info.expires_at - info.created_at == 3600
        accounts.sign_up("bob", "bobs password", invite=invite, mode="invite")
        with pytest.raises(SignUpRefused):
            accounts.sign_up("cy", "cys password", invite=invite, mode="invite")


def test_the_real_command_with_rfc_9106_hashes(tmp_path: Path) -> None:
    """As an administrator runs it: a subprocess, the password piped in, the default parameters."""
    db = tmp_path / "cowrite.db"
    r = subprocess.run(
        [sys.executable, "-m", "cowrite.cli", "user", "add", "boss", "--admin"],
        input=b"a long admin password\n", capture_output=True, timeout=120, cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert db.exists()  # the default --db, like `cowrite serve`
    with SQLiteStore(db) as store:
        record = store.account("boss")
        assert record is not None and record.admin
        assert argon2.extract_parameters(record.password_hash) == argon2.profiles.RFC_9106_LOW_MEMORY
        Accounts(store).sign_in("boss", "a long admin password", "127.0.0.1")
    r = subprocess.run([sys.executable, "-m", "cowrite.cli", "user", "list"], capture_output=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.decode().startswith("boss\tadmin\t")
