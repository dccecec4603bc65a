"""Revisions and Watch: the "Revisions" and "Watch" promises of ``Store``, for every backend.

``StoreContract`` includes ``WatchContract``, so each backend's test module
runs these too: memory (4 and 64 stripes), Redis standalone and Redis Cluster.
"""

from __future__ import annotations

import hashlib
import threading

import pytest
from server.store.contract_sessions import TTL, MakeStore, fw
from support import FakeClock

from contextstore.server.errors import InvalidArgument, RevisionCompacted
from contextstore.server.store.base import Store
from contextstore.server.store.events import Cursor, Event, EventKind, Reason, Revision

K = EventKind


def kinds(change: Revision) -> list[tuple[EventKind, str]]:
    return [(e.kind, e.path) for e in change.events]


def drain(cursor: Cursor) -> list[Revision]:
    return cursor.next(0)


class WatchContract:
    """``Store``'s "Revisions" and "Watch"; ``StoreContract`` includes it."""

    def test_every_change_takes_a_higher_revision_and_writes_return_it(self, store: Store) -> None:
        before = store.revision("s")
        meta = store.cache_file("s", fw("a", b"1"))
        analysis = store.cache_analysis("s", "a", "ast", b"t")
        removed = store.invalidate_analysis("s", "a", "ast")
        batch = store.batch_cache_files("s", [fw("b", b"2"), fw("c", b"3")])
        gone = store.invalidate_file("s", "b")
        under = store.invalidate_prefix("s", "c")
        revisions = [
            before, meta.revision, analysis.revision, removed.revision,
            batch[0].revision, gone.revision, under.revision,
        ]  # fmt: skip
        assert revisions == sorted(set(revisions)), "each change its own, higher revision"
        assert batch[1].revision == batch[0].revision, "one batch, one revision"
        assert store.list_files("s", "", None, 10).revision == under.revision
        assert store.revision("s") == under.revision

    def test_a_call_that_changes_nothing_returns_the_revision_unchanged(self, store: Store) -> None:
        current = store.cache_file("s", fw("a", b"1")).revision
        assert store.invalidate_file("s", "missing").revision == current
        assert store.invalidate_analysis("s", "a", "none").revision == current
        assert store.invalidate_prefix("s", "zz").revision == current
        assert store.revision("s") == current
        assert drain(store.watch("s", current)) == []

    def test_a_namespace_that_holds_nothing_never_reports_a_lower_revision(
        self, store: Store
    ) -> None:
        empty = store.revision("never-written")
        assert store.list_files("never-written", "", None, 1).revision >= empty
        cleared = store.cache_file("s", fw("a", b"1")).revision
        after = store.clear_session("s").revision
        assert after > cleared
        assert store.revision("s") >= after
        assert store.cache_file("s", fw("a", b"2")).revision > after

    def test_a_cursor_returns_each_change_whole_and_in_order(self, store: Store) -> None:
        cursor = store.watch("s", 0)
        writes = store.batch_cache_files("s", [fw("a", b"1"), fw("b", b"2")])
        store.cache_analysis("s", "a", "ast", b"t")
        replaced = store.cache_file("s", fw("a", b"one"))
        store.invalidate_file("s", "b")
        cleared = store.clear_session("s")
        changes = drain(cursor)
        assert [kinds(c) for c in changes] == [
            [(K.FILE_CACHED, "a"), (K.FILE_CACHED, "b")],
            [(K.ANALYSIS_CACHED, "a")],
            [(K.ANALYSIS_REMOVED, "a"), (K.FILE_CACHED, "a")],
            [(K.FILE_INVALIDATED, "b")],
            [(K.SESSION_CLEARED, "")],
        ]
        assert [c.revision for c in changes] == sorted({c.revision for c in changes})
        assert changes[0].revision == writes[0].revision
        assert changes[-1].revision == cleared.revision == cursor.revision
        assert changes[0].events[0] == Event(
            K.FILE_CACHED, "a", hashlib.sha256(b"1").digest(), writes[0].version
        )
        assert changes[1].events[0].analysis_type == "ast"
        stale = changes[2].events[0]
        assert (stale.analysis_type, stale.reason) == ("ast", Reason.STALE)
        assert changes[2].events[1].version == replaced.version
        assert drain(cursor) == []

    def test_every_removal_says_why(self, store: Store) -> None:
        store.cache_file("s", fw("a/x", b"1"))
        store.cache_analysis("s", "a/x", "ast", b"t")
        store.cache_analysis("s", "a/x", "sym", b"t")
        cursor = store.watch("s", 0)
        store.invalidate_analysis("s", "a/x", "ast")
        store.invalidate_prefix("s", "a/")
        first, second = drain(cursor)
        assert [(e.kind, e.analysis_type, e.reason) for e in first.events] == [
            (K.ANALYSIS_REMOVED, "ast", Reason.INVALIDATED)
        ]
        assert sorted((e.kind, e.analysis_type, e.reason) for e in second.events) == [
            (K.FILE_INVALIDATED, "", Reason.NONE),
            (K.ANALYSIS_REMOVED, "sym", Reason.INVALIDATED),
        ]

    def test_evictions_and_expiry_are_changes(self, make: MakeStore, clock: FakeClock) -> None:
        store = make(session_entries=1)
        store.cache_file("s", fw("a", b"1"))
        cursor = store.watch("s", 0)
        store.cache_file("s", fw("b", b"2"))
        evicted = [e for c in drain(cursor) for e in c.events]
        assert (K.FILE_EVICTED, "a") in [(e.kind, e.path) for e in evicted]
        clock.now += TTL
        assert store.expire_idle() == 1
        (expired,) = drain(cursor)
        assert kinds(expired) == [(K.SESSION_EXPIRED, "")]

    def test_resuming_replays_what_came_after_across_a_clear(self, store: Store) -> None:
        first = store.cache_file("s", fw("a", b"1")).revision
        store.cache_file("s", fw("b", b"2"))
        store.clear_session("s")
        store.cache_file("s", fw("c", b"3"))
        changes = drain(store.watch("s", first))
        assert [kinds(c) for c in changes] == [
            [(K.FILE_CACHED, "b")],
            [(K.SESSION_CLEARED, "")],
            [(K.FILE_CACHED, "c")],
        ]

    def test_namespaces_keep_apart(self, store: Store) -> None:
        mine, other = store.watch("s", 0), store.watch(None, 0)
        store.cache_file("s", fw("a", b"1"))
        assert len(drain(mine)) == 1 and drain(other) == []

    def test_history_past_its_bound_is_compacted_never_a_gap(self, make: MakeStore) -> None:
        store = make(watch_history_revisions=3)
        revisions = [store.cache_file("s", fw(f"f{i}", b"x")).revision for i in range(5)]
        with pytest.raises(RevisionCompacted) as compacted:
            store.watch("s", revisions[0])
        oldest = compacted.value.oldest
        assert revisions[1] <= oldest < revisions[2], "only what is gone is refused"
        assert compacted.value.current == revisions[-1]
        changes = drain(store.watch("s", oldest))
        assert [c.revision for c in changes] == revisions[2:]

    def test_a_cursor_left_behind_the_history_is_told(self, make: MakeStore) -> None:
        store = make(watch_history_revisions=2)
        cursor = store.watch("s", 0)
        for i in range(4):
            store.cache_file("s", fw(f"f{i}", b"x"))
        with pytest.raises(RevisionCompacted):
            cursor.next(0)

    def test_a_revision_ahead_of_the_namespace_is_invalid(self, store: Store) -> None:
        current = store.cache_file("s", fw("a", b"1")).revision
        with pytest.raises(InvalidArgument) as invalid:
            store.watch("s", current + 1_000_000)
        assert invalid.value.violations[0].field == "start_revision"

    def test_a_waiting_cursor_wakes_for_a_change_and_for_wake(self, store: Store) -> None:
        cursor = store.watch("s", 0)
        got: list[list[Revision]] = []
        waiter = threading.Thread(target=lambda: got.append(cursor.next(60)))
        waiter.start()
        store.cache_file("s", fw("a", b"1"))
        waiter.join(30)
        assert not waiter.is_alive() and [kinds(c) for c in got[0]] == [[(K.FILE_CACHED, "a")]]
        waiter = threading.Thread(target=lambda: got.append(cursor.next(60)))
        waiter.start()
        cursor.wake()
        waiter.join(30)
        assert not waiter.is_alive() and got[1] == []
        cursor.close()
