"""``cowrite share list|members|owner``: an administrator gives documents owners from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from accounts_helpers import CHEAP, PASSWORD

from cowrite.accounts import Accounts, Passwords, Sharing
from cowrite.cli import main
from cowrite.store import SQLiteStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cowrite.db"
    with SQLiteStore(path) as store:
        accounts = Accounts(store, hasher=Passwords(CHEAP))
        accounts.sign_up("ada", PASSWORD, "Ada")
        accounts.sign_up("bob", PASSWORD, "Bob")
        store.create("legacy")
        store.create("owned")
        Sharing(store, accounts).create_owner("owned", "ada")
    return path


def test_list_members_and_owner(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["share", "list", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines() == ["legacy\t-", "owned\tada"]
    assert main(["share", "owner", "legacy", "BOB", "--db", str(db)]) == 0
    assert "'bob' owns 'legacy'" in capsys.readouterr().err
    assert main(["share", "owner", "owned", "bob", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["share", "members", "owned", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines() == ["bob\towner\tBob", "ada\teditor\tAda"]
    with SQLiteStore(db) as store:
        assert store.owners() == {"legacy": "bob", "owned": "bob"}
        assert {m.added_by for m in store.members("legacy")} == {"system"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["owner", "legacy", "ghost"], "no account 'ghost'"),
        (["owner", "missing", "ada"], "no document 'missing'"),
        (["owner", "legacy", "a'; DROP TABLE members; --"], "username"),
        (["owner", "../etc", "ada"], "bad document id"),
    ],
)
def test_errors_change_nothing(db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(["share", *argv, "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cowrite share {argv[0]}: error:") and message in err
    with SQLiteStore(db) as store:
        assert store.owners() == {"owned": "ada"}
