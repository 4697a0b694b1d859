"""Password guesses spread over two real ``cowrite serve`` processes on one PostgreSQL are
throttled as one attacker's: the failure counts are in the database both servers share.

Each guess alternates between the servers, as a load balancer would spread them.  With
per-process counts the attacker would get twice the free guesses before any wait."""

from __future__ import annotations

import time
from pathlib import Path

import argon2
import httpx

from tests.integration.cluster import cluster_server
from tests.integration.test_cluster import kill_all, no_bugs_logged, start_all

from cowrite.accounts import Accounts, Passwords
from cowrite.store import open_store

PASSWORD = "correct horse battery"
CHEAP = argon2.Parameters(
    type=argon2.Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=8, parallelism=1
)


def signin(base: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/auth/signin",
        json={"username": "ada", "password": password},
        headers={"origin": base},
        timeout=30,
        trust_env=False,
    )


def test_guesses_over_two_servers_share_one_count(pg_url: str, tmp_path: Path) -> None:
    with open_store(pg_url) as store:
        Accounts(store, hasher=Passwords(CHEAP)).sign_up("ada", PASSWORD, mode="open")
    servers = [cluster_server(pg_url, tmp_path / f"s{i}.log", redis=None, prefix="", name=f"s{i}") for i in range(2)]
    start_all(servers)
    try:
        bases = [s.http for s in servers]
        throttled = 0
        for i in range(7):  # alternate; when told to wait, wait as long as told and guess again
            while (r := signin(bases[i % 2], f"guess {i}")).status_code == 429:
                throttled += 1
                time.sleep(int(r.headers["retry-after"]))
            assert r.status_code == 401, r.text
        # each server saw 3 or 4 of the 7 failures: counted apart, none would have waited
        assert throttled >= 2, throttled
        for base in bases:  # the 7th failure's wait (4 s) holds on both, for the right password too
            r = signin(base, PASSWORD)
            assert r.status_code == 429 and r.json()["error"] == "throttled", r.text
        time.sleep(int(r.headers["retry-after"]) + 0.2)  # backoff, never a lockout: it runs out
        r = signin(bases[1], PASSWORD)
        assert r.status_code == 200, r.text
        no_bugs_logged(servers)
    finally:
        kill_all(servers)
