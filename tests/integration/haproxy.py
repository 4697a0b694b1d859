"""A real HAProxy (Debian's ``/usr/sbin/haproxy``) in front of several ``cowrite serve`` processes.

:func:`haproxy_config` writes the configuration the operator guide shows
(``docs/operations.md``; a test checks the two agree), with the health-check
timings shortened for tests.  :class:`HAProxy` runs it in the foreground (``-db``)
on a free port and kills it at the end.  The stats page (``/stats;csv``, on a
port of its own) tells what HAProxy thinks of each server: ``UP``, ``DOWN`` ...
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .harness import free_port

HAPROXY = os.environ.get("COWRITE_TEST_HAPROXY", "/usr/sbin/haproxy")
SERVER_HEADER = "X-Cowrite-Server"
"""The response header HAProxy adds to every answer: the name of the server that gave it
(for a WebSocket, the server the connection is on)."""


def haproxy_unavailable(reason: str) -> None:
    """Skip (outside CI) or fail (CI=true) a test that needs HAProxy, with the reason."""
    message = f"HAProxy is not available ({reason}); install Debian's haproxy or set COWRITE_TEST_HAPROXY"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " -- CI=true, so this fails rather than skips", pytrace=False)
    pytest.skip(message)


def haproxy_exe() -> str:
    """The haproxy binary (skipped, or failed under CI=true, when there is none)."""
    exe = HAPROXY if os.access(HAPROXY, os.X_OK) else shutil.which("haproxy")
    if exe is None:
        haproxy_unavailable(f"no executable {HAPROXY} and none on PATH")
    return str(exe)


@dataclass(frozen=True, slots=True)
class Checks:
    """The health-check timing: every ``inter`` a ``GET /ready``; ``fall`` failures in a row
    mark a server down, ``rise`` successes up again.  ``connect`` bounds a connection to
    a server (a dead one is retried on another server after it)."""

    inter: str = "2s"
    fall: int = 3
    rise: int = 2
    connect: str = "5s"


FAST_CHECKS = Checks(inter="200ms", fall=2, rise=1, connect="1s")
"""For tests: a killed server is marked down within about half a second."""


def haproxy_config(
    servers: list[tuple[str, str]],
    *,
    bind: str = "*:80",
    stats: str | None = "127.0.0.1:8404",
    admin_socket: str | None = "/run/haproxy/admin.sock",
    balance: str = "leastconn",
    checks: Checks = Checks(),
) -> str:
    """The HAProxy configuration for cowrite servers ``[(name, "host:port"), ...]``
    listening on ``bind``, with its stats page on ``stats`` and its runtime API (to
    drain a server) on the unix socket ``admin_socket`` (None: none)."""
    lines = ["global", "    maxconn 4096"]
    if admin_socket is not None:
        lines += ["    # The runtime API: `set server cowrite_servers/s1 state drain` sends no new clients there.",
                  f"    stats socket {admin_socket} mode 600 level admin"]
    lines += [
        "",
        "defaults",
        "    mode http",
        f"    timeout connect {checks.connect}",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "    # An upgraded WebSocket is a tunnel: this idle timeout replaces client/server.",
        "    # Clients ping every 20 s, so only dead connections are cut.",
        "    timeout tunnel 1h",
        "    timeout client-fin 5s",
        "    # A server that refuses the connection is replaced by another one for the request.",
        "    option redispatch",
        "    retries 2",
        "",
        "frontend cowrite",
        f"    bind {bind}",
        "    default_backend cowrite_servers",
        "",
        "backend cowrite_servers",
        f"    balance {balance}",
        "    # Ready: the server's store answers (Redis may be down: it polls the store then).",
        "    option httpchk GET /ready",
        "    http-check expect status 200",
        f"    {_SERVER_HEADER_RULE}",
        f"    default-server check inter {checks.inter} fall {checks.fall} rise {checks.rise} on-marked-down shutdown-sessions",
    ]
    lines += [f"    server {name} {address}" for name, address in servers]
    if stats is not None:
        lines += [
            "",
            "frontend stats",
            f"    bind {stats}",
            "    stats enable",
            "    stats uri /stats",
            "    stats refresh 5s",
        ]
    return "\n".join(lines) + "\n"


_SERVER_HEADER_RULE = f"http-response set-header {SERVER_HEADER} %[srv_name]"


class HAProxy:
    """``haproxy -db -f <dir>/haproxy.cfg`` in front of ``servers`` (``[(name, port)]``)."""

    def __init__(
        self, workdir: Path, servers: list[tuple[str, int]], *, balance: str = "roundrobin", checks: Checks = FAST_CHECKS
    ) -> None:
        self.exe = haproxy_exe()
        self.port = free_port()
        self.stats_port = free_port()
        self.config = workdir / "haproxy.cfg"
        self.log = workdir / "haproxy.log"
        # (a unix socket path is at most 107 bytes: not under pytest's long temp paths)
        self._socket_dir = tempfile.mkdtemp(prefix="cw-haproxy-")
        self.admin_socket = os.path.join(self._socket_dir, "admin.sock")
        self.config.write_text(
            haproxy_config(
                [(name, f"127.0.0.1:{port}") for name, port in servers],
                bind=f"127.0.0.1:{self.port}",
                stats=f"127.0.0.1:{self.stats_port}",
                admin_socket=self.admin_socket,
                balance=balance,
                checks=checks,
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check_config(self) -> None:
        """``haproxy -c``: the configuration is valid (AssertionError with its output if not)."""
        done = subprocess.run([self.exe, "-c", "-f", str(self.config)], capture_output=True, timeout=30)
        assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")

    def start(self, timeout: float = 15.0) -> None:
        """Start it and wait until it answers with every server up."""
        self.check_config()
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.exe, "-db", "-f", str(self.config)], stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                states = self.states()
                if states and all(s == "UP" for s in states.values()):
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not come up with every server up in {timeout} s:\n{self.log_text()}")
            time.sleep(0.05)

    def states(self) -> dict[str, str]:
        """What HAProxy thinks of each server now: ``{name: "UP" | "DOWN" | ...}``."""
        r = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5, trust_env=False)
        r.raise_for_status()
        rows = csv.DictReader(io.StringIO(r.text.lstrip("# ")))
        return {
            row["svname"]: row["status"].split()[0]
            for row in rows
            if row["pxname"] == "cowrite_servers" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def command(self, line: str) -> str:
        """One command of HAProxy's runtime API (e.g. ``set server cowrite_servers/s1 state
        drain``); its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(self.admin_socket)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self._socket_dir, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-5000:]
        except OSError:
            return ""
