"""The memory backend's shared contents: one copy for many sessions, charged in full to each.

What only this backend promises (``memory``, "Shared contents"); the index is
internal, so its size is read from the store's ``_contents`` where a test must
show it emptied.
"""

from __future__ import annotations

import threading

from contextstore.server.store.base import Budgets, FileWrite
from contextstore.server.store.memory import StripedStore

BIG = 4096
NO_LIMITS = Budgets(total_bytes=0, session_ttl_seconds=0, share_min_bytes=2048)


def content(n: int, size: int = BIG) -> bytes:
    """A new object each call; equal contents for equal ``n``."""
    return n.to_bytes(8, "little") * (size // 8)


def test_sessions_caching_the_same_content_share_one_copy_and_pay_in_full() -> None:
    store = StripedStore(budgets=NO_LIMITS)
    for ns in ("a", "b", "c"):
        store.cache_file(ns, FileWrite("f.py", content(1)))
    held = [store.get_file_wire(ns, "f.py") for ns in ("a", "b", "c")]
    assert held[0] is not None and all(h is not None and h.content is held[0].content for h in held)
    stats = store.store_stats()
    charge = BIG + len("f.py")
    assert [store.stats(ns).bytes for ns in ("a", "b", "c")] == [charge] * 3
    assert stats.bytes == 3 * charge
    assert stats.held_bytes == 3 * charge - 2 * BIG


def test_small_contents_are_held_per_entry() -> None:
    store = StripedStore(budgets=NO_LIMITS)
    for ns in ("a", "b"):
        store.cache_file(ns, FileWrite("f.py", content(1, 1024)))
    a, b = store.get_file_wire("a", "f.py"), store.get_file_wire("b", "f.py")
    assert a is not None and b is not None and a.content is not b.content
    stats = store.store_stats()
    assert stats.held_bytes == stats.bytes and len(store._contents) == 0


def test_every_way_an_entry_goes_releases_its_content() -> None:
    store = StripedStore(budgets=Budgets(total_bytes=0, session_ttl_seconds=0, session_entries=2))
    store.cache_file("a", FileWrite("f", content(1)))
    store.cache_file("b", FileWrite("f", content(1)))
    store.cache_file("b", FileWrite("f", content(2)))  # replaced
    store.invalidate_file("a", "f")  # invalidated
    assert len(store._contents) == 1
    store.cache_file("b", FileWrite("g", content(3)))
    store.cache_file("b", FileWrite("h", content(4)))  # evicts f (content 2)
    assert len(store._contents) == 2
    store.invalidate_prefix("b", "")  # nothing: an empty prefix is the caller's to refuse
    store.clear_session("b")  # cleared
    assert len(store._contents) == 0
    stats = store.store_stats()
    assert stats.bytes == stats.held_bytes == 0


def test_a_content_a_reader_still_holds_is_swept_later() -> None:
    store = StripedStore(budgets=NO_LIMITS)
    store.cache_file("a", FileWrite("f", content(1)))
    reading = store.get_file_wire("a", "f")  # a response not yet sent
    store.invalidate_file("a", "f")
    assert len(store._contents) == 1, "kept while a reader holds it"
    del reading
    store.expire_idle()
    assert len(store._contents) == 0


def test_threads_sharing_and_releasing_leave_nothing_behind() -> None:
    store = StripedStore(stripes=8, budgets=NO_LIMITS)

    def churn(worker: int) -> None:
        for i in range(300):
            ns = f"s{(worker + i) % 6}"
            store.cache_file(ns, FileWrite(f"p{i % 5}", content(i % 4)))
            if i % 7 == 0:
                store.clear_session(ns)

    threads = [threading.Thread(target=churn, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = store.store_stats()
    assert stats.held_bytes <= stats.bytes
    assert len(store._contents) <= 4
    for ns in (f"s{i}" for i in range(6)):
        store.clear_session(ns)
    store.expire_idle()
    assert len(store._contents) == 0 and store.store_stats().held_bytes == 0
