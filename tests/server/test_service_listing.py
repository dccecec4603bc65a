"""ListFiles paging and InvalidatePrefix over the wire, through the typed client and raw stubs."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from contextstore.client import ContextStoreClient, FileUpload, InvalidArgument, Removed
from contextstore.server import paging
from contextstore.server.app import Server
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc


def _fill(client: ContextStoreClient, paths: list[str]) -> None:
    for start in range(0, len(paths), 100):
        client.batch_cache_files([FileUpload(p, p.encode()) for p in paths[start : start + 100]])


def test_listing_pages_through_every_file_in_path_order(client: ContextStoreClient) -> None:
    s = client.session("ls")
    paths = [f"src/m{i:04d}.py" for i in range(1234)] + ["readme", "src0", "src/é.py"]
    _fill(s, paths)

    first = s.list_files_page("src/")
    assert len(first.files) == paging.DEFAULT_PAGE_SIZE and first.next_page_token
    assert s.list_files_page("src/", page_size=5000).next_page_token  # capped at 1000
    assert len(s.list_files_page("src/", page_size=5000).files) == paging.MAX_PAGE_SIZE
    listed = [m.path for m in s.list_files("src/", page_size=97)]
    assert listed == sorted(p for p in paths if p.startswith("src/"))
    assert [m.path for m in s.list_files()] == sorted(paths)  # code point order = UTF-8 order
    assert s.stats().hits == 0


def test_paths_holding_only_analyses_make_short_pages_not_gaps(
    client: ContextStoreClient,
) -> None:
    s = client.session("ls")
    for i in range(50):  # 50 paths with no file, before the files in path order
        s.cache_analysis(f"a/{i:02d}", "ast", b"t")
    _fill(s, ["a/zz1", "a/zz2"])

    pages = []
    token = ""
    while True:
        page = s.list_files_page("a/", page_size=1, page_token=token)
        pages.append([m.path for m in page.files])
        if not (token := page.next_page_token):
            break
    assert [p for page in pages for p in page] == ["a/zz1", "a/zz2"]
    assert [] in pages  # a page looked at 8 paths, found no file, and said where to go on


def test_a_token_is_good_only_for_its_own_session_and_prefix(client: ContextStoreClient) -> None:
    _fill(client.session("a"), [f"p/{i}" for i in range(5)])
    token = client.session("a").list_files_page("p/", page_size=2).next_page_token

    for session, prefix in (("b", "p/"), ("a", "q/"), (None, "p/"), ("a", "")):
        with pytest.raises(InvalidArgument) as error:
            client.session(session).list_files_page(prefix, page_token=token)
        assert [v.subject for v in error.value.violations] == ["page_token"]
    rest = client.session("a").list_files_page("p/", page_token=token)
    assert [m.path for m in rest.files] == ["p/2", "p/3", "p/4"]


@pytest.mark.parametrize("token", ["!!", "AQ", "AQAAAAAAAAAA", "a" * 5000])
def test_garbage_tokens_are_invalid_argument(server: Server, token: str) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.ListFiles(pb.ListFilesRequest(page_token=token), timeout=10)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["page_token"]


def test_invalidate_prefix_removes_only_under_it_in_one_namespace(
    client: ContextStoreClient,
) -> None:
    s = client.session("ip")
    _fill(s, ["a/1", "a/2", "a/b/3", "ab", "b"])
    _fill(client.session("other"), ["a/1"])
    s.cache_analysis("a/1", "ast", b"t")
    s.cache_analysis("a/9", "ast", b"t")  # no file

    assert s.invalidate_prefix("a/") == Removed(3, 2)
    assert [m.path for m in s.list_files()] == ["ab", "b"]
    assert client.session("other").get_file("a/1") is not None
    assert s.stats().files == 2 and s.stats().analyses == 0
    with pytest.raises(InvalidArgument) as error:
        s.invalidate_prefix("")
    assert [v.subject for v in error.value.violations] == ["path_prefix"]
