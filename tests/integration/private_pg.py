"""A PostgreSQL server of a test's own, which it may stop and start (the machine's is shared).

``initdb`` + ``pg_ctl`` in a temporary directory, listening on 127.0.0.1 on a free port
(trust authentication: loopback, a throwaway cluster).  PostgreSQL refuses to run as
root, so as root it runs as the ``postgres`` user (``runuser``).  Without the binaries
(or that user) the test is skipped with the reason; under ``CI=true`` it fails instead,
since CI must test the failure behaviour against the real thing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .harness import free_port


def postgres_unavailable(reason: str) -> None:
    """Skip (outside CI) or fail (CI=true) a test that needs a private PostgreSQL."""
    message = f"cannot run a private PostgreSQL server ({reason})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " -- CI=true, so this fails rather than skips", pytrace=False)
    pytest.skip(message)


def _bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: ``pg_config --bindir``, else Debian's layout."""
    exe = shutil.which("pg_config")
    if exe is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([exe, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
            if out and (Path(out) / "initdb").exists():
                return Path(out)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """One throwaway PostgreSQL cluster: :meth:`start`, :meth:`stop` (``immediate`` is a
    crash: no checkpoint, connections cut, recovery from the WAL on the next start),
    :meth:`remove`.  :attr:`url` is a libpq URL of its ``postgres`` database."""

    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            postgres_unavailable("no initdb/pg_ctl found (pg_config --bindir, /usr/lib/postgresql/*/bin)")
        assert bindir is not None
        self.bindir = bindir
        self.run_as: list[str] = []
        if os.geteuid() == 0:  # postgres will not run as root
            runuser = shutil.which("runuser")
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                postgres_unavailable("running as root and there is no 'postgres' user to run it as")
            if runuser is None:
                postgres_unavailable("running as root and there is no runuser to run it as 'postgres'")
            self.run_as = [str(runuser), "-u", "postgres", "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="cw-pg-"))
        if self.run_as:
            os.chown(self.dir, pwd.getpwnam("postgres").pw_uid, -1)
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.port = free_port()
        try:
            self._pg(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N", "-E", "UTF8"], "initdb")
        except BaseException:  # skipped or failed: leave nothing behind
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, argv: list[str], what: str, timeout: float = 60.0) -> None:
        cmd = [*self.run_as, str(self.bindir / argv[0]), *argv[1:]]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            postgres_unavailable(f"{what} failed: {exc}")
            return
        if done.returncode != 0:
            postgres_unavailable(f"{what} failed ({done.returncode}): {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        """Start it (again) and wait until it takes connections."""
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c full_page_writes=off -c max_connections=100"
        )
        self._pg(["pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.logfile), "-w", "-t", "60", "start"], "pg_ctl start")
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, mode: str = "immediate") -> None:
        """Stop it (``immediate``: like a crash; ``fast``: clean, connections cut)."""
        self._pg(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"], "pg_ctl stop")

    def log_text(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def remove(self) -> None:
        """Stop it if it runs, and delete its directory."""
        if (self.data / "postmaster.pid").exists():
            cmd = [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(cmd, capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
