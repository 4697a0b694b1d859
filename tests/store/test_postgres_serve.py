"""``cowrite serve --db postgresql://...``: a real server process on a PostgreSQL store.

What it shows: the acknowledged edits are in PostgreSQL (read back through a store of the
test's own), and a second server started on the same database serves them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.harness import ServerProcess, client, run

from cowrite.store import open_store


def test_serve_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    one = ServerProcess(pg_url, log=tmp_path / "one.log")  # type: ignore[arg-type]  # a URL, not a file
    one.start()
    try:
        assert "PostgresStore postgresql://postgres@127.0.0.1" in one.log_text()
        assert "cowrite.db" not in one.log_text()
        one.create_doc("notes")

        async def type_and_sync() -> str:
            async with client(one, "notes", "ann") as c:
                c.insert(0, "Hello from PostgreSQL")
                await c.synced(timeout=15)  # acknowledged: committed to PostgreSQL first
                await asyncio.sleep(0)
                return str(c.text)

        assert run(type_and_sync()) == "Hello from PostgreSQL"
        with open_store(pg_url) as store:
            assert store.load("notes").text == "Hello from PostgreSQL"
            assert store.info("notes").seq >= 1
    finally:
        one.kill()
    two = ServerProcess(pg_url, log=tmp_path / "two.log")  # type: ignore[arg-type]
    two.start()
    try:
        assert two.text("notes") == "Hello from PostgreSQL"
    finally:
        two.kill()
    assert not list(Path.cwd().glob("postgresql:*"))  # no secret file or database made from the URL


def test_user_and_share_commands_on_postgresql(pg_url: str) -> None:
    """``cowrite user`` and ``cowrite share`` open the same stores ``serve`` does."""
    import subprocess
    import sys

    from cowrite.accounts import Accounts

    add = subprocess.run(
        [sys.executable, "-m", "cowrite.cli", "user", "add", "ada", "--admin", "--db", pg_url],
        input=b"a long admin password\n",
        capture_output=True,
        timeout=120,
    )
    assert add.returncode == 0, add.stderr
    listed = subprocess.run([sys.executable, "-m", "cowrite.cli", "user", "list", "--db", pg_url], capture_output=True, timeout=120)
    assert listed.returncode == 0 and listed.stdout.decode().startswith("ada\tadmin\t"), listed
    shares = subprocess.run([sys.executable, "-m", "cowrite.cli", "share", "list", "--db", pg_url], capture_output=True, timeout=120)
    assert shares.returncode == 0, shares.stderr
    with open_store(pg_url) as store:
        account = Accounts(store).account("ada")
        assert account is not None and account.admin
