"""Wire-level cases (wire_cases.json): raw requests and exact status details.

What no typed client can express (an empty versus an absent field, a
deprecated field, a response's exact shape) is checked once, here, through
the generated stubs and proto3 JSON, against a server with the settings of
cases.json.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conformance.matching import expand, match
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig
from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

HERE = Path(__file__).parent
SERVER = json.loads((HERE / "cases.json").read_text(encoding="utf-8"))["server"]
CASES = expand(json.loads((HERE / "wire_cases.json").read_text(encoding="utf-8"))["cases"])
SERVICE = pb.DESCRIPTOR.services_by_name["ContextStoreService"]
DEADLINE_SECONDS = 10.0


@pytest.fixture(scope="module")
def stub() -> Iterator[pb_grpc.ContextStoreServiceStub]:
    server = Server(dataclasses.replace(ServerConfig(listen="127.0.0.1:0"), **SERVER))
    server.start()
    with grpc.insecure_channel(server.address) as channel:
        yield pb_grpc.ContextStoreServiceStub(channel)
    server.stop(grace=0)


def _details(error: grpc.RpcError) -> tuple[set[str], set[str]]:
    fields: set[str] = set()
    subjects: set[str] = set()
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        bad, quota = error_details_pb2.BadRequest(), error_details_pb2.QuotaFailure()
        if detail.Unpack(bad):
            fields |= {v.field for v in bad.field_violations}
        elif detail.Unpack(quota):
            subjects |= {v.subject for v in quota.violations}
    return fields, subjects


def run_step(stub: pb_grpc.ContextStoreServiceStub, step: dict[str, Any]) -> str | None:
    expect = step["expect"]
    method = SERVICE.methods_by_name[step["rpc"]]
    request: Message = json_format.ParseDict(step["request"], pb.__dict__[method.input_type.name]())
    try:
        response = getattr(stub, step["rpc"])(request, timeout=DEADLINE_SECONDS)
    except grpc.RpcError as error:
        code = error.code().name
        if code != expect["code"]:
            return f"{step['rpc']}: expected {expect['code']}, got {code}: {error.details()}"
        fields, subjects = _details(error)
        for key, got in (("field_violations", fields), ("quota_subjects", subjects)):
            if key in expect and got != set(expect[key]):
                return f"{key}: expected {sorted(expect[key])}, got {sorted(got)}"
        return None
    if expect["code"] != "OK":
        return f"{step['rpc']}: expected {expect['code']}, got OK"
    printed = json_format.MessageToDict(
        response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return match(expect.get("response", {}), printed, "response")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_wire_case(stub: pb_grpc.ContextStoreServiceStub, case: dict[str, Any]) -> None:
    for session in case["sessions"]:
        stub.ClearSession(pb.ClearSessionRequest(session_id=session or None))
    for index, step in enumerate(case["steps"]):
        problem = run_step(stub, step)
        assert problem is None, f"step {index}: {problem}"
