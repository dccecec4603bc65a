// Unit tests that need no server: `make test` (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Metadata } from "@grpc/grpc-js";

import { methodDefinition, timestampFromDate, timestampToDate } from "../client";
import { ContextStoreError, Status, decodeStatusDetails, toContextStoreError } from "../errors";
import { BadRequest, QuotaFailure } from "../gen/google/rpc/error_details";
import { Status as RpcStatus } from "../gen/google/rpc/status";
import { expand, match } from "../matcher";
import { binaryToJson, jsonToBinary, service } from "../protojson";

function method(name: string) {
  const found = service("contextstore.v1.ContextStoreService").methods.find((m) => m.name === name);
  assert.ok(found);
  return found;
}

test("expand replaces $bytes and $string", () => {
  assert.deepEqual(expand({ a: [{ $bytes: { fill: "a", count: 3 } }], b: { $string: { fill: "x", count: 4 } } }), {
    a: ["YWFh"],
    b: "xxxx",
  });
  assert.deepEqual(expand({ $bytes: { fill: "a", count: 1 }, other: 1 }), { $bytes: { fill: "a", count: 1 }, other: 1 });
});

test("match follows the README's rules", () => {
  assert.equal(match({ size: "5" }, { size: 5, other: 1 }), undefined);
  assert.equal(match({ n: 0, s: "", b: false, i: "0" }, {}), undefined);
  assert.equal(match({ n: 0 }, { n: null }), undefined);
  assert.match(match({ size: "5" }, { size: "6" }) ?? "", /response\.size/);
  assert.equal(match({ x: { $present: true } }, { x: "v" }), undefined);
  assert.notEqual(match({ x: { $present: true } }, { x: "" }), undefined);
  assert.notEqual(match({ x: { $present: true } }, { x: {} }), undefined);
  assert.equal(match({ x: { $absent: true } }, { x: null }), undefined);
  assert.equal(match({ x: { $absent: true } }, {}), undefined);
  assert.notEqual(match({ x: { $absent: true } }, { x: "2026-01-01T00:00:00Z" }), undefined);
  assert.equal(match({ l: [{ a: 1 }, {}] }, { l: [{ a: "1", b: 2 }, { c: 3 }] }), undefined);
  assert.match(match({ l: [{}] }, { l: [] }) ?? "", /expected 1 items, got 0/);
  assert.equal(match({ l: [] }, {}), undefined);
  assert.match(match({ o: { a: 1 } }, { o: "x" }) ?? "", /expected an object/);
  assert.equal(match({ labels: { k: "v" } }, { labels: { k: "v", j: "w" } }), undefined);
});

test("the status details decode into field violations and quota subjects", () => {
  const status = RpcStatus.encode({
    code: Status.INVALID_ARGUMENT,
    message: "bad",
    details: [
      {
        typeUrl: "type.googleapis.com/google.rpc.BadRequest",
        value: Buffer.from(
          BadRequest.encode({
            fieldViolations: [
              { field: "path", description: "empty", reason: "", localizedMessage: undefined },
              { field: "files[3].path", description: "empty", reason: "", localizedMessage: undefined },
            ],
          }).finish(),
        ),
      },
      {
        typeUrl: "type.googleapis.com/google.rpc.QuotaFailure",
        value: Buffer.from(
          QuotaFailure.encode(
            QuotaFailure.fromPartial({ violations: [{ subject: "session_bytes", description: "over" }] }),
          ).finish(),
        ),
      },
    ],
  }).finish();
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(status));
  const details = decodeStatusDetails(metadata);
  assert.deepEqual(details.fieldViolations.map((v) => v.field), ["path", "files[3].path"]);
  assert.deepEqual(details.quotaViolations.map((v) => v.subject), ["session_bytes"]);

  const error = toContextStoreError(
    Object.assign(new Error("3 INVALID_ARGUMENT: bad"), { code: Status.INVALID_ARGUMENT, details: "bad", metadata }),
  );
  assert.ok(error instanceof ContextStoreError);
  assert.equal(error.codeName, "INVALID_ARGUMENT");
  assert.deepEqual(error.fields, ["path", "files[3].path"]);
  assert.deepEqual(error.quotaSubjects, ["session_bytes"]);
});

test("proto3 JSON keeps nanoseconds, emits defaults and keeps optional presence", () => {
  const cacheFile = methodDefinition("CacheFile");
  const request = cacheFile.requestDeserialize(
    Buffer.from(
      jsonToBinary(method("CacheFile").input, {
        session_id: "",
        path: "a.py",
        content: "aGVsbG8=",
        mtime: "2026-01-02T03:04:05.000006Z",
      }),
    ),
  );
  assert.equal(request.sessionId, ""); // present, so the global namespace explicitly
  assert.equal(request.content.toString(), "hello");
  assert.deepEqual(request.mtime, { seconds: 1767323045n, nanos: 6000 });

  const printed = binaryToJson(
    method("CacheFile").output,
    cacheFile.responseSerialize({
      metadata: {
        path: "a.py",
        size: 9007199254740993n,
        sha256: Buffer.alloc(0),
        mtime: request.mtime,
        cachedAt: undefined,
        labels: {},
        version: 0n,
      },
    }),
  );
  assert.deepEqual(printed, {
    metadata: {
      path: "a.py",
      size: "9007199254740993",
      sha256: "",
      mtime: "2026-01-02T03:04:05.000006Z",
      labels: {},
      version: "0",
    },
  });

  const stats = methodDefinition("GetStats");
  assert.equal(stats.requestDeserialize(Buffer.from(jsonToBinary(method("GetStats").input, {}))).sessionId, undefined);
});

test("timestamps convert to and from Date", () => {
  const date = new Date("1969-12-31T23:59:59.250Z");
  assert.deepEqual(timestampFromDate(date), { seconds: -1n, nanos: 250_000_000 });
  assert.equal(timestampToDate(timestampFromDate(date)).getTime(), date.getTime());
});
