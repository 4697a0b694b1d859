"""The store contract for sign-in throttle counts (mixed into StoreContract, so every
backend runs it): reads, atomic updates under concurrency from two handles, deletion,
purging, and refusals that store nothing."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cowrite.store import InvalidArgument, Store
from cowrite.store.throttle import MAX_THROTTLE_KEY, MAX_THROTTLE_KEYS, ThrottleRecord


def _plus_one(at: float) -> Any:
    def change(record: ThrottleRecord | None) -> ThrottleRecord:
        failures = 1.0 if record is None else record.failures + 1.0
        return ThrottleRecord(failures, at, at + failures)

    return change


class ThrottleContract:
    def test_throttle_counts_are_read_per_scope_and_key(self, store: Store) -> None:
        assert store.throttle_records("signin:account", ["ada", "bob"]) == {}
        assert store.throttle_records("signin:account", []) == {}
        stored = store.update_throttle("signin:account", "ada", lambda r: ThrottleRecord(2.5, 100.0, 104.0))
        assert stored == ThrottleRecord(2.5, 100.0, 104.0)
        store.update_throttle("signin:address", "ada", lambda r: ThrottleRecord(1.0, 50.0, 50.0))
        assert store.throttle_records("signin:account", ["ada", "bob", "ada"]) == {"ada": ThrottleRecord(2.5, 100.0, 104.0)}
        assert store.throttle_records("signin:address", ["ada"]) == {"ada": ThrottleRecord(1.0, 50.0, 50.0)}
        assert store.throttle_records("signup:address", ["ada"]) == {}

    def test_an_update_sees_the_stored_record_and_none_deletes_it(self, store: Store) -> None:
        seen: list[ThrottleRecord | None] = []

        def change(record: ThrottleRecord | None) -> ThrottleRecord:
            seen.append(record)
            return _plus_one(10.0)(record)

        store.update_throttle("s", "k", change)
        store.update_throttle("s", "k", change)
        assert seen == [None, ThrottleRecord(1.0, 10.0, 11.0)]
        assert store.throttle_records("s", ["k"]) == {"k": ThrottleRecord(2.0, 10.0, 12.0)}
        assert store.update_throttle("s", "k", lambda r: None) is None
        assert store.throttle_records("s", ["k"]) == {}
        assert store.update_throttle("s", "missing", lambda r: None) is None  # nothing to delete: fine

    def test_a_change_that_raises_or_returns_garbage_stores_nothing(self, store: Store) -> None:
        store.update_throttle("s", "k", lambda r: ThrottleRecord(1.0, 1.0, 1.0))

        def boom(record: ThrottleRecord | None) -> ThrottleRecord:
            raise RuntimeError("no")

        with pytest.raises(RuntimeError):
            store.update_throttle("s", "k", boom)
        for bad in (ThrottleRecord(float("nan"), 1.0, 1.0), ThrottleRecord(1.0, float("inf"), 1.0),
                    ThrottleRecord(-1.0, 1.0, 1.0), "a record"):
            with pytest.raises(InvalidArgument):
                store.update_throttle("s", "k", lambda r, bad=bad: bad)  # type: ignore[misc]
        assert store.throttle_records("s", ["k"]) == {"k": ThrottleRecord(1.0, 1.0, 1.0)}

    @pytest.mark.parametrize("bad", ["", "x" * (MAX_THROTTLE_KEY + 1), "a\0b", 7, None])
    def test_scopes_and_keys_are_checked(self, store: Store, bad: object) -> None:
        with pytest.raises(InvalidArgument):
            store.update_throttle(bad, "k", lambda r: None)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            store.update_throttle("s", bad, lambda r: ThrottleRecord(1.0, 1.0, 1.0))  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            store.throttle_records("s", [bad])  # type: ignore[list-item]
        with pytest.raises(InvalidArgument):
            store.throttle_records("s", "ada")  # a string is not a list of keys
        with pytest.raises(InvalidArgument):
            store.throttle_records("s", [f"k{i}" for i in range(MAX_THROTTLE_KEYS + 1)])
        assert store.throttle_records("s", ["k", "x" * MAX_THROTTLE_KEY]) == {}

    def test_keys_are_stored_literally(self, store: Store) -> None:
        keys = ["2001:db8::/64", "Ünïcode 😀", "'; DROP TABLE throttle; --", "x" * MAX_THROTTLE_KEY]
        for k in keys:
            store.update_throttle("s", k, lambda r: ThrottleRecord(3.0, 2.0, 1.0))
        assert store.throttle_records("s", keys) == {k: ThrottleRecord(3.0, 2.0, 1.0) for k in keys}

    def test_purge_drops_only_old_counts_whose_wait_is_over(self, store: Store) -> None:
        store.update_throttle("s", "old", lambda r: ThrottleRecord(5.0, 10.0, 12.0))
        store.update_throttle("s", "old-but-waiting", lambda r: ThrottleRecord(5.0, 10.0, 500.0))
        store.update_throttle("s", "recent", lambda r: ThrottleRecord(5.0, 200.0, 201.0))
        assert store.purge_throttle(before=100.0) == 1
        assert set(store.throttle_records("s", ["old", "old-but-waiting", "recent"])) == {"old-but-waiting", "recent"}
        assert store.purge_throttle(before=1000.0) == 2
        with pytest.raises(InvalidArgument):
            store.purge_throttle(before=float("nan"))

    def test_counts_survive_reopening(self, store: Store, backend: Any) -> None:
        store.update_throttle("s", "k", lambda r: ThrottleRecord(4.0, 3.0, 9.0))
        with backend.open() as other:
            assert other.throttle_records("s", ["k"]) == {"k": ThrottleRecord(4.0, 3.0, 9.0)}

    def test_two_handles_counting_one_key_at_once_lose_no_count(self, store: Store, backend: Any) -> None:
        """Two servers (two handles, many threads) count failures of one key and of a key
        nobody has counted yet: every one counts (the first insert races too)."""
        other = backend.open()
        try:
            n, each = 8, 10
            barrier = threading.Barrier(n)
            errors: list[BaseException] = []

            def work(i: int) -> None:
                s = store if i % 2 else other
                try:
                    barrier.wait()
                    for _ in range(each):
                        s.update_throttle("signin:account", "victim", _plus_one(1.0))
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            got = store.throttle_records("signin:account", ["victim"])["victim"]
            assert got.failures == n * each
        finally:
            other.close()
