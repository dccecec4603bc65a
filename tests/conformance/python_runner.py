"""The Python conformance runner: each step through ``contextstore.client``.

Usage: python_runner.py --target TARGET [--target TARGET ...] --cases PATH
[--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--token TOKEN]
[--identity NAME=TOKEN ...] (see README.md beside it). A thin adapter: it maps
each operation name to the typed client's method and prints what came back,
normalized; ``matching`` judges it. One client per ``--target`` (each value
handed to it as is, so ``--target A,B`` is one client balancing over two
servers); step k of a case goes to target k mod n, a case's setup to the
first. A step with ``"as": NAME`` runs on a client sending NAME's token (same
TLS settings, made on first use and kept per target and name).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from contextstore.client import (
    CachedAnalysis,
    CachedFile,
    ContextStoreClient,
    ContextStoreError,
    FileMetadata,
    FilePage,
    FileUpload,
    PreconditionFailed,
    Removed,
    RevisionCompacted,
    ServerInfo,
    Stats,
    Tls,
    WatchResponse,
    flags,
)

DEADLINE_SECONDS = 10.0

Args = Mapping[str, Any]
Operation = Callable[[ContextStoreClient, Args], Any]


def _bytes(text: str) -> bytes:
    return base64.b64decode(text)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _digest(text: str | None) -> bytes | None:
    return None if text is None else _bytes(text)


def _expect(a: Args) -> dict[str, Any]:
    """The precondition arguments a step gives, as keyword arguments."""
    return {"if_version": a.get("if_version"), "if_sha256": _digest(a.get("if_sha256"))}


def _upload(item: Args) -> FileUpload:
    return FileUpload(
        item["path"], _bytes(item["content"]), item.get("labels", {}), _time(item.get("mtime")),
        **_expect(item),
    )  # fmt: skip


def _known(a: Args) -> dict[str, bytes] | None:
    known = a.get("known_sha256")
    return None if known is None else {path: _bytes(d) for path, d in known.items()}


OPERATIONS: dict[str, Operation] = {
    "cache_file": lambda c, a: c.cache_file(
        a["path"],
        _bytes(a["content"]),
        labels=a.get("labels"),
        mtime=_time(a.get("mtime")),
        **_expect(a),
    ),
    "get_file": lambda c, a: c.get_file(a["path"], known_sha256=_digest(a.get("known_sha256"))),
    "get_metadata": lambda c, a: c.get_metadata(a["path"]),
    "cache_analysis": lambda c, a: c.cache_analysis(
        a["path"], a["analysis_type"], _bytes(a["result"]), **_expect(a)
    ),
    "get_analysis": lambda c, a: c.get_analysis(a["path"], a["analysis_type"]),
    "invalidate_file": lambda c, a: c.invalidate_file(a["path"], **_expect(a)),
    "invalidate_analysis": lambda c, a: c.invalidate_analysis(a["path"], a["analysis_type"]),
    "invalidate_analyses": lambda c, a: c.invalidate_analyses(a["path"]),
    "clear_session": lambda c, a: c.clear_session(),
    "list_files": lambda c, a: list(
        c.list_files(a.get("path_prefix", ""), page_size=a.get("page_size", 0))
    ),
    "list_files_page": lambda c, a: c.list_files_page(
        a.get("path_prefix", ""),
        page_size=a.get("page_size", 0),
        page_token=a.get("page_token", ""),
    ),
    "invalidate_prefix": lambda c, a: c.invalidate_prefix(a["path_prefix"]),
    "batch_get_files": lambda c, a: c.batch_get_files(a["paths"], known_sha256=_known(a)),
    "batch_cache_files": lambda c, a: c.batch_cache_files([_upload(f) for f in a["files"]]),
    "stats": lambda c, a: c.stats(),
    "store_stats": lambda c, a: c.store_stats(),
    "server_info": lambda c, a: c.server_info(),
}
READS = {"get_file", "get_metadata", "get_analysis"}


def _watch(c: ContextStoreClient, a: Args) -> list[WatchResponse]:
    """The first ``responses`` responses carrying events; the stream's first response
    (progress) at least, so that ``responses`` 0 still proves the stream opened."""
    wanted, found = a["responses"], []
    with c.watch(a.get("start_revision", 0), path_prefix=a.get("path_prefix", "")) as watch:
        for response in watch:
            if not response.progress:
                found.append(response)
            if len(found) == wanted:
                break
    return found


OPERATIONS["watch"] = _watch


# -- normalized results (README.md, "Results") -----------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _metadata(m: FileMetadata) -> dict[str, Any]:
    return {
        "path": m.path, "size": m.size, "sha256": _b64(m.sha256),
        "mtime": None if m.mtime is None else _rfc3339(m.mtime),
        "cached_at": _rfc3339(m.cached_at), "labels": dict(m.labels), "version": m.version,
    }  # fmt: skip


def _event(e: Any) -> dict[str, Any]:
    return {
        "kind": e.kind.name, "path": e.path, "sha256": _b64(e.sha256), "version": e.version,
        "analysis_type": e.analysis_type, "reason": "" if e.reason.value == 0 else e.reason.name,
    }  # fmt: skip


def _server_info(info: ServerInfo) -> dict[str, Any]:
    # Every field of Limits; durations (session_ttl, receive_timeout) in seconds.
    limits = {
        name: value.total_seconds() if isinstance(value, timedelta) else value
        for name in info.limits.__dataclass_fields__
        for value in [getattr(info.limits, name)]
    }
    return {
        "version": info.version, "backend": info.backend,
        "backend_properties": dict(info.backend_properties), "limits": limits,
    }  # fmt: skip


def normalize(value: Any) -> Any:
    if isinstance(value, CachedFile):
        return {
            "content": _b64(value.content), "metadata": _metadata(value.metadata),
            "unchanged": value.unchanged,
        }  # fmt: skip
    if isinstance(value, FileMetadata):
        return _metadata(value)
    if isinstance(value, CachedAnalysis):
        return {"result": _b64(value.result), "cached_at": _rfc3339(value.cached_at)}
    if isinstance(value, datetime):  # cache_analysis
        return {"cached_at": _rfc3339(value)}
    if isinstance(value, FilePage):
        return {
            "files": [_metadata(m) for m in value.files],
            "next_page_token": value.next_page_token,
            "revision": value.revision,
        }
    if isinstance(value, Removed):
        return {"files": value.files, "analyses": value.analyses, "revision": value.revision}
    if isinstance(value, WatchResponse):
        return {"revision": value.revision, "events": [_event(e) for e in value.events]}
    if isinstance(value, Stats):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    if isinstance(value, ServerInfo):
        return _server_info(value)
    if isinstance(value, list):
        return [None if v is None else normalize(v) for v in value]
    return value  # counts


def run_step(client: ContextStoreClient, step: Args) -> dict[str, Any]:
    operation = OPERATIONS.get(step["op"])
    if operation is None:
        return {"runner_error": f"unknown operation {step['op']!r}"}
    handle = client.session(step.get("session") or None)
    try:
        result = operation(handle, step.get("args", {}))
    except ContextStoreError as error:
        violations = [v.subject for v in error.violations]
        outcome: dict[str, Any] = {
            "code": error.code.name,
            "violations": violations,
            "message": error.message,
        }
        if isinstance(error, PreconditionFailed):
            outcome["current_version"] = error.current_version
            outcome["current_sha256"] = _b64(error.current_sha256)
        if isinstance(error, RevisionCompacted):
            outcome["oldest_revision"] = error.oldest_revision
            outcome["current_revision"] = error.current_revision
        return {"error": outcome}
    if result is None and step["op"] in READS:
        return {"miss": True}
    return {"result": normalize(result)}


class Clients:
    """The default client of each target, and identities' clients, made on first use."""

    def __init__(
        self, stack: ExitStack, targets: Sequence[str], tls: Tls | None, token: str | None,
        identities: Mapping[str, str],
    ) -> None:  # fmt: skip
        self._stack, self._targets, self._tls = stack, targets, tls
        self._identities = identities
        self.default = [self._open(target, token) for target in targets]
        self._named: dict[tuple[int, str], ContextStoreClient] = {}

    def __len__(self) -> int:
        return len(self._targets)

    def named(self, index: int, name: str) -> ContextStoreClient | None:
        """Target ``index``'s client sending ``name``'s token; ``None`` for an unknown name."""
        if name not in self._identities:
            return None
        if (index, name) not in self._named:
            client = self._open(self._targets[index], self._identities[name])
            self._named[index, name] = client
        return self._named[index, name]

    def _open(self, target: str, token: str | None) -> ContextStoreClient:
        client = ContextStoreClient(target, timeout=DEADLINE_SECONDS, tls=self._tls, token=token)
        return self._stack.enter_context(client)


def _step_on(clients: Clients, k: int, step: Args) -> dict[str, Any]:
    index = k % len(clients)
    name = step.get("as")
    if name is None:
        return run_step(clients.default[index], step)
    client = clients.named(index, name)
    if client is None:
        return {"runner_error": f"unknown identity {name!r} (no --identity {name}=TOKEN)"}
    return run_step(client, step)


def run_case(clients: Clients, case: Args) -> dict[str, Any]:
    """Setup on the first target's default client; step k on target k mod n."""
    for session in case["sessions"]:
        try:
            clients.default[0].session(session or None).clear_session()
        except ContextStoreError as error:
            return {"case": case["name"], "setup_error": f"clear_session({session!r}): {error}"}
    outcomes: list[dict[str, Any]] = []
    for k, step in enumerate(case["steps"]):
        outcomes.append(_step_on(clients, k, _with_revision(step, outcomes)))
    return {"case": case["name"], "outcomes": outcomes}


def _with_revision(step: Args, outcomes: Sequence[Mapping[str, Any]]) -> Args:
    """``step`` with ``after_step`` (an earlier step's result revision) as ``start_revision``."""
    args = step.get("args", {})
    if "after_step" not in args:
        return step
    revision = outcomes[args["after_step"]].get("result", {}).get("revision", 0)
    return {**step, "args": {**args, "start_revision": revision}}


def _identity(text: str) -> tuple[str, str]:
    name, sep, token = text.partition("=")
    if not (name and sep and token):
        raise argparse.ArgumentTypeError(f"expected NAME=TOKEN, got {text.split('=')[0]!r}=...")
    return name, token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", action="append", required=True)
    parser.add_argument("--cases", required=True)
    parser.add_argument(
        "--identity", action="append", type=_identity, default=[], metavar="NAME=TOKEN",
        help='the token a step with "as": NAME sends (repeatable)',
    )  # fmt: skip
    flags.add_flags(parser)
    args = parser.parse_args()
    try:
        tls, token = flags.tls(args), flags.token(args)
    except ValueError as error:
        parser.error(str(error))
    with open(args.cases, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    with ExitStack() as stack:
        clients = Clients(stack, args.target, tls, token, dict(args.identity))
        for case in cases:
            print(json.dumps(run_case(clients, case)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
