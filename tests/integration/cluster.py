"""Helpers for the cluster tests: Redis (the machine's, or a private one a test may kill)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .harness import ServerProcess, free_port

REDIS_URL = os.environ.get("COWRITE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_unavailable(reason: str) -> None:
    """Skip (outside CI) or fail (CI=true) a test that needs Redis, with the reason."""
    message = f"Redis is not available at {REDIS_URL} ({reason}); set COWRITE_TEST_REDIS"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " -- CI=true, so this fails rather than skips", pytrace=False)
    pytest.skip(message)


def ping(url: str, timeout: float = 2.0) -> str | None:
    """None if Redis at ``url`` answers PING, else what went wrong."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return str(exc) or type(exc).__name__
    return None


def new_prefix() -> str:
    """A channel prefix of a test's own, so tests never hear each other's notices."""
    return f"cw_t_{uuid.uuid4().hex[:12]}"


class PrivateRedis:
    """``redis-server --port <free> --save ''`` of a test's own, which it may kill and restart."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            redis_unavailable("no redis-server binary to start a private one")
        self.exe = str(exe)
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        assert self.proc is None or self.proc.poll() is not None
        log = open(self.workdir / f"redis-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while ping(self.url, 0.5) is not None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private redis-server on port {self.port} did not come up")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def cluster_server(
    pg_url: str, log: Path, *, redis: str | None, prefix: str, limits: tuple[str, ...] = (), name: str = "s"
) -> ServerProcess:
    args: list[str] = ["--server-id", name]
    if redis is not None:
        args += ["--redis", redis, "--redis-prefix", prefix]
    for lim in limits:
        args += ["--limit", lim]
    return ServerProcess(pg_url, log=log, args=tuple(args))  # type: ignore[arg-type]  # a URL, not a file
