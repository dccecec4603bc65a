"""The Python conformance runner: executes cases.json through the generated stubs.

Usage: python_runner.py --target HOST:PORT --cases PATH (see README.md beside it).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from contextstore.v1 import context_store_pb2 as pb
from contextstore.v1 import context_store_pb2_grpc as pb_grpc

DEADLINE_SECONDS = 10.0
SERVICE = pb.DESCRIPTOR.services_by_name["ContextStoreService"]


def expand(value: Any) -> Any:
    """Replace the ``$bytes`` and ``$string`` generators, recursively."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            spec = value["$bytes"]
            return base64.b64encode(spec["fill"].encode() * spec["count"]).decode()
        if set(value) == {"$string"}:
            return value["$string"]["fill"] * value["$string"]["count"]
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def _is_default(value: Any) -> bool:
    return value is None or value is False or value == 0 or value == "" or value == "0"


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if _is_default(expected) and _is_default(actual):
        return True
    numeric = (int, str)
    if (
        isinstance(expected, numeric)
        and isinstance(actual, numeric)
        and not (isinstance(expected, bool) or isinstance(actual, bool))
    ):
        try:
            return int(expected) == int(actual)
        except ValueError:
            pass
    return bool(expected == actual)


def match(expected: Any, actual: Any, where: str = "response") -> str | None:
    """None when ``actual`` matches ``expected`` under the README's rules."""
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        if "$present" in expected:
            return (
                None if not _is_default(actual) and actual not in ({}, []) else f"{where}: missing"
            )
        if "$absent" in expected:
            return None if actual is None else f"{where}: expected absent, got {actual!r}"
    if isinstance(expected, dict):
        actual_dict = actual if isinstance(actual, dict) else {}
        if actual is not None and not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            problem = match(value, actual_dict.get(key), f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        got = actual if isinstance(actual, list) else []
        if len(got) != len(expected):
            return f"{where}: expected {len(expected)} items, got {len(got)}"
        problems = [
            match(e, a, f"{where}[{i}]") for i, (e, a) in enumerate(zip(expected, got, strict=True))
        ]
        return next((p for p in problems if p), None)
    if not _scalar_equal(expected, actual):
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None


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


def _call(stub: pb_grpc.ContextStoreServiceStub, rpc: str, request: dict[str, Any]) -> Any:
    method = SERVICE.methods_by_name[rpc]
    message: Message = json_format.ParseDict(request, pb.__dict__[method.input_type.name]())
    call: Callable[..., Message] = getattr(stub, rpc)
    return call(message, timeout=DEADLINE_SECONDS)


def run_step(stub: pb_grpc.ContextStoreServiceStub, step: dict[str, Any]) -> str | None:
    expect = step["expect"]
    try:
        response = _call(stub, step["rpc"], expand(step["request"]))
    except (json_format.ParseError, KeyError) as error:
        return f"bad step: {error}"
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
    return match(expand(expect.get("response", {})), printed)


def run_case(stub: pb_grpc.ContextStoreServiceStub, case: dict[str, Any]) -> dict[str, Any]:
    for session in case["sessions"]:
        # "" is the global namespace: a request without session_id.
        request = pb.ClearSessionRequest(session_id=session or None)
        try:
            stub.ClearSession(request, timeout=DEADLINE_SECONDS)
        except grpc.RpcError as error:
            failure = f"setup: ClearSession({session!r}) failed: {error.code().name}"
            return {"case": case["name"], "ok": False, "step": -1, "error": failure}
    for index, step in enumerate(case["steps"]):
        problem = run_step(stub, step)
        if problem:
            return {"case": case["name"], "ok": False, "step": index, "error": problem}
    return {"case": case["name"], "ok": True}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--cases", required=True)
    args = parser.parse_args()
    with open(args.cases, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    passed = True
    with grpc.insecure_channel(args.target) as channel:
        stub = pb_grpc.ContextStoreServiceStub(channel)
        for case in cases:
            result = run_case(stub, case)
            passed = passed and result["ok"]
            print(json.dumps(result), flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
