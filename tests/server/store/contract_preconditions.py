"""Compare-and-set writes: the "Preconditions" promise of ``Store``, for every backend.

``StoreContract`` includes ``PreconditionContract``, so each backend's test
module runs these too. A failed precondition changes nothing: no entry, no
counter, no namespace created; a batch tests every item before storing any.
"""

from __future__ import annotations

import hashlib
import threading

import pytest
from server.store.contract_sessions import fw

from contextstore.server.errors import PreconditionFailed
from contextstore.server.store.base import Expect, FileWrite, Removed, Stats, Store

ONE, TWO = b"one", b"two"
SHA_ONE, SHA_TWO = hashlib.sha256(ONE).digest(), hashlib.sha256(TWO).digest()


def cas(
    path: str, content: bytes, version: int | None = None, sha: bytes | None = None
) -> FileWrite:
    return FileWrite(path, content, expect=Expect(version, sha))


def _content(store: Store, ns: str, path: str) -> bytes | None:
    found = store.get_file(ns, path)
    return None if found is None else found.content


class PreconditionContract:
    """``Store``'s "Preconditions"; ``StoreContract`` includes it."""

    def test_version_zero_stores_only_where_no_file_is(self, store: Store) -> None:
        first = store.cache_file("s", cas("a", ONE, version=0))
        with pytest.raises(PreconditionFailed) as failed:
            store.cache_file("s", cas("a", TWO, version=0))
        assert (failed.value.path, failed.value.current_version) == ("a", first.version)
        assert failed.value.current_sha256 == SHA_ONE
        assert _content(store, "s", "a") == ONE

    def test_the_current_version_stores_and_a_stale_one_does_not(self, store: Store) -> None:
        first = store.cache_file("s", fw("a", ONE))
        second = store.cache_file("s", cas("a", TWO, version=first.version))
        assert second.version > first.version
        with pytest.raises(PreconditionFailed) as failed:
            store.cache_file("s", cas("a", ONE, version=first.version))
        assert failed.value.current_version == second.version
        assert failed.value.current_sha256 == SHA_TWO
        meta = store.get_metadata("s", "a")
        assert meta is not None and meta.version == second.version

    def test_a_digest_stores_only_over_that_content(self, store: Store) -> None:
        store.cache_file("s", fw("a", ONE))
        store.cache_file("s", cas("a", TWO, sha=SHA_ONE))
        with pytest.raises(PreconditionFailed):
            store.cache_file("s", cas("a", ONE, sha=SHA_ONE))
        with pytest.raises(PreconditionFailed) as failed:  # no file: no digest matches
            store.cache_file("s", cas("b", ONE, sha=SHA_ONE))
        assert (failed.value.current_version, failed.value.current_sha256) == (0, b"")
        assert _content(store, "s", "a") == TWO and _content(store, "s", "b") is None

    def test_both_conditions_must_hold(self, store: Store) -> None:
        meta = store.cache_file("s", fw("a", ONE))
        with pytest.raises(PreconditionFailed):
            store.cache_file("s", cas("a", TWO, version=meta.version, sha=SHA_TWO))
        store.cache_file("s", cas("a", TWO, version=meta.version, sha=SHA_ONE))
        assert _content(store, "s", "a") == TWO

    def test_a_removed_file_is_version_zero(self, store: Store) -> None:
        meta = store.cache_file("s", fw("a", ONE))
        store.invalidate_file("s", "a")
        with pytest.raises(PreconditionFailed) as failed:
            store.cache_file("s", cas("a", TWO, version=meta.version))
        assert failed.value.current_version == 0
        store.cache_file("s", cas("a", TWO, version=0))

    def test_a_failed_batch_stores_nothing_and_names_the_first_failure(self, store: Store) -> None:
        store.cache_file("s", fw("a", ONE))
        before = store.stats("s")
        batch = [cas("new", ONE, version=0), cas("a", TWO, sha=SHA_TWO), cas("b", TWO, sha=SHA_TWO)]
        with pytest.raises(PreconditionFailed) as failed:
            store.batch_cache_files("s", batch)
        assert failed.value.path == "a"
        assert store.stats("s") == before  # nothing stored, nothing read
        assert store.batch_get_files("s", ["new", "a"])[0] is None

    def test_a_failure_creates_no_namespace(self, store: Store) -> None:
        with pytest.raises(PreconditionFailed):
            store.cache_file("fresh", cas("a", ONE, sha=SHA_ONE))
        with pytest.raises(PreconditionFailed):
            store.cache_analysis("fresh", "a", "ast", b"r", expect=Expect(sha256=SHA_ONE))
        assert store.stats("fresh") == Stats()
        assert store.store_stats().sessions == 0

    def test_an_analysis_is_stored_only_against_the_file_it_names(self, store: Store) -> None:
        store.cache_file("s", fw("a", TWO))
        with pytest.raises(PreconditionFailed) as failed:
            store.cache_analysis("s", "a", "ast", b"old", expect=Expect(sha256=SHA_ONE))
        assert failed.value.current_sha256 == SHA_TWO
        assert store.get_analysis("s", "a", "ast") is None
        store.cache_analysis("s", "a", "ast", b"new", expect=Expect(sha256=SHA_TWO))
        store.cache_analysis("s", "none", "ast", b"x", expect=Expect(version=0))
        found = store.get_analysis("s", "a", "ast")
        assert found is not None and found.result == b"new"

    def test_invalidate_removes_only_the_file_it_names(self, store: Store) -> None:
        meta = store.cache_file("s", fw("a", TWO))
        store.cache_analysis("s", "a", "ast", b"r")
        with pytest.raises(PreconditionFailed):
            store.invalidate_file("s", "a", expect=Expect(sha256=SHA_ONE))
        with pytest.raises(PreconditionFailed):
            store.invalidate_file("s", "a", expect=Expect(version=meta.version + 1))
        assert _content(store, "s", "a") == TWO
        removed = store.invalidate_file("s", "a", expect=Expect(version=meta.version))
        assert removed == Removed(1, 1)
        assert store.invalidate_file("s", "a", expect=Expect(version=0)) == Removed()

    def test_concurrent_increments_lose_no_update(self, store: Store) -> None:
        """Each thread reads the count and writes count+1 only over what it read."""
        threads, each = 4, 25
        store.cache_file("s", fw("count", b"0"))

        def increment() -> None:
            done = 0
            while done < each:
                found = store.get_file("s", "count")
                assert found is not None
                value = int(found.content) + 1
                write = cas("count", str(value).encode(), version=found.metadata.version)
                try:
                    store.cache_file("s", write)
                except PreconditionFailed:
                    continue  # another thread wrote first: read again
                done += 1

        workers = [threading.Thread(target=increment) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert _content(store, "s", "count") == str(threads * each).encode()
