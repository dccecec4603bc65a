// Compare-and-set writes and conditional reads, without a contextstore server: `make test`.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { Metadata } from "@grpc/grpc-js";

import { ContextStoreClient } from "../src/client";
import { preconditionFields } from "../src/conditions";
import * as pb from "../src/gen/contextstore/v1/context_store";
import {
  ContextStoreError,
  PreconditionFailedError,
  Status,
  decodeStatusDetails,
  toContextStoreError,
} from "../src/errors";
import { BadRequest, ErrorInfo } from "../src/gen/google/rpc/error_details";
import { Status as RpcStatus } from "../src/gen/google/rpc/status";
import { serve } from "./fake-server";

const ONE = createHash("sha256").update("one\n").digest();
const TWO = createHash("sha256").update("two\n").digest();

type Detail = { typeUrl: string; value: Buffer };

function errorInfo(metadata: Record<string, string>, reason = "PRECONDITION_FAILED", domain = "contextstore.dev"): Detail {
  return {
    typeUrl: "type.googleapis.com/google.rpc.ErrorInfo",
    value: Buffer.from(ErrorInfo.encode({ reason, domain, metadata }).finish()),
  };
}

/** Trailers carrying a google.rpc.Status with `details`, as the server sends them. */
function trailers(code: Status, details: Detail[]): Metadata {
  const metadata = new Metadata();
  const status = RpcStatus.encode({ code, message: "m", details }).finish();
  metadata.set("grpc-status-details-bin", Buffer.from(status));
  return metadata;
}

function serviceError(code: Status, metadata: Metadata): Error {
  return Object.assign(new Error(`${code} m`), { code, details: "m", metadata });
}

test("ABORTED with a PRECONDITION_FAILED ErrorInfo is a PreconditionFailedError", () => {
  const metadata = trailers(Status.ABORTED, [
    errorInfo({ path: "a.py", current_version: "9007199254740993", current_sha256: TWO.toString("hex") }),
  ]);
  assert.deepEqual(decodeStatusDetails(metadata).errorInfos, [
    {
      reason: "PRECONDITION_FAILED",
      domain: "contextstore.dev",
      metadata: { path: "a.py", current_version: "9007199254740993", current_sha256: TWO.toString("hex") },
    },
  ]);
  const error = toContextStoreError(serviceError(Status.ABORTED, metadata));
  assert.ok(error instanceof PreconditionFailedError);
  assert.ok(error instanceof ContextStoreError, "a ContextStoreError like every other failure");
  assert.equal(error.code, Status.ABORTED);
  assert.equal(error.codeName, "ABORTED");
  assert.equal(error.name, "PreconditionFailedError");
  assert.equal(error.path, "a.py");
  assert.equal(error.currentVersion, 9_007_199_254_740_993n, "int64 as bigint, exact past 2^53");
  assert.deepEqual(error.currentSha256, TWO);
  assert.equal(error.currentSha256Hex, TWO.toString("hex"));
  assert.deepEqual(error.fields, []);
});

test("a precondition that found no file reports version 0n and an empty digest", () => {
  const metadata = trailers(Status.ABORTED, [errorInfo({ path: "b.py", current_version: "0", current_sha256: "" })]);
  const error = toContextStoreError(serviceError(Status.ABORTED, metadata));
  assert.ok(error instanceof PreconditionFailedError);
  assert.equal(error.currentVersion, 0n);
  assert.equal(error.currentSha256.length, 0);
});

test("other failures stay plain ContextStoreErrors, their details decoded as before", () => {
  const cases: [Status, Detail[]][] = [
    [Status.ABORTED, []], // ABORTED without the detail
    [Status.ABORTED, [errorInfo({ path: "a.py" }, "SOMETHING_ELSE")]],
    [Status.ABORTED, [errorInfo({ path: "a.py", current_version: "1" }, "PRECONDITION_FAILED", "example.com")]],
    [Status.ABORTED, [errorInfo({ path: "a.py", current_version: "x1", current_sha256: "" })]], // malformed
    [Status.ABORTED, [errorInfo({ path: "a.py", current_version: "1", current_sha256: "abc" })]], // odd hex
    [Status.FAILED_PRECONDITION, [errorInfo({ path: "a.py", current_version: "1", current_sha256: "" })]],
  ];
  for (const [code, details] of cases) {
    const error = toContextStoreError(serviceError(code, trailers(code, details)));
    assert.ok(!(error instanceof PreconditionFailedError), JSON.stringify(details.map((d) => d.typeUrl)));
    assert.equal(error.code, code);
  }
  const badRequest: Detail = {
    typeUrl: "type.googleapis.com/google.rpc.BadRequest",
    value: Buffer.from(
      BadRequest.encode({
        fieldViolations: [{ field: "if_sha256", description: "32 bytes", reason: "", localizedMessage: undefined }],
      }).finish(),
    ),
  };
  const invalid = toContextStoreError(
    serviceError(Status.INVALID_ARGUMENT, trailers(Status.INVALID_ARGUMENT, [badRequest, errorInfo({})])),
  );
  assert.ok(!(invalid instanceof PreconditionFailedError));
  assert.deepEqual(invalid.fields, ["if_sha256"]);
});

test("preconditionFields sends ifVersion 0 as a present zero and leaves absent conditions out", () => {
  assert.deepEqual(preconditionFields(undefined), {});
  assert.deepEqual(preconditionFields({}), {});
  assert.deepEqual(preconditionFields({ ifVersion: undefined, ifSha256: undefined }), {});
  assert.deepEqual(preconditionFields({ ifVersion: 0 }), { ifVersion: 0n });
  assert.deepEqual(preconditionFields({ ifVersion: 7n, ifSha256: new Uint8Array(ONE) }), { ifVersion: 7n, ifSha256: ONE });
  assert.throws(() => preconditionFields({ ifVersion: 1.5 }), TypeError);
  // On the wire: field 6 (if_version) present with 0, absent without a condition.
  const zero = pb.CacheFileRequest.encode({ ...pb.CacheFileRequest.create(), ...preconditionFields({ ifVersion: 0 }) });
  assert.deepEqual(Buffer.from(zero.finish()), Buffer.from([6 << 3, 0]));
  const none = pb.CacheFileRequest.encode({ ...pb.CacheFileRequest.create(), ...preconditionFields({}) });
  assert.equal(none.finish().length, 0);
});

function metadataOf(path: string, sha256: Buffer): pb.FileMetadata {
  return { ...pb.FileMetadata.create(), path, sha256, version: 3n, size: 4n };
}

test("the preconditions and known digests go in the requests; unchanged comes back", async () => {
  const seen: [string, unknown][] = [];
  const fake = await serve({
    cacheFile: (call, callback) => {
      seen.push(["CacheFile", call.request]);
      callback(null, { metadata: metadataOf(call.request.path, ONE), revision: 11n });
    },
    batchCacheFiles: (call, callback) => {
      seen.push(["BatchCacheFiles", call.request]);
      callback(null, { metadata: call.request.files.map((f) => metadataOf(f.path, ONE)), revision: 12n });
    },
    cacheAnalysis: (call, callback) => {
      seen.push(["CacheAnalysis", call.request]);
      callback(null, { cachedAt: { seconds: 1n, nanos: 0 }, revision: 13n });
    },
    invalidateFile: (call, callback) => {
      seen.push(["InvalidateFile", call.request]);
      callback(null, { filesRemoved: 1n, analysesRemoved: 0n, revision: 14n });
    },
    getFile: (call, callback) => {
      seen.push(["GetFile", call.request]);
      const unchanged = call.request.knownSha256?.equals(ONE) ?? false;
      callback(null, {
        content: unchanged ? Buffer.alloc(0) : Buffer.from("one\n"),
        metadata: metadataOf(call.request.path, ONE),
        unchanged,
      });
    },
    batchGetFiles: (call, callback) => {
      seen.push(["BatchGetFiles", call.request]);
      callback(null, {
        files: call.request.paths.map((path) => {
          const unchanged = call.request.knownSha256[path]?.equals(ONE) ?? false;
          return {
            path,
            found: path !== "gone.py",
            content: unchanged || path === "gone.py" ? Buffer.alloc(0) : Buffer.from("one\n"),
            metadata: path === "gone.py" ? undefined : metadataOf(path, ONE),
            unchanged,
          };
        }),
      });
    },
  });
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    const s = client.session("s1");
    await s.cacheFile("a.py", "one\n", { ifVersion: 0 });
    await s.cacheFile("a.py", "two\n", { ifSha256: ONE, labels: { k: "v" } });
    await s.cacheFile("a.py", "two\n");
    await s.batchCacheFiles([
      { path: "n.py", content: "one\n", ifVersion: 0n },
      { path: "a.py", content: "two\n", ifVersion: 3, ifSha256: ONE },
      { path: "b.py", content: "" },
    ]);
    await s.cacheAnalysis("a.py", "ast", "tree", { ifSha256: TWO });
    await s.cacheAnalysis("a.py", "ast", "tree");
    await s.invalidateFile("a.py", { ifVersion: 0 });
    await s.invalidateFile("a.py");

    assert.deepEqual(await s.getFile("a.py", { knownSha256: ONE }), {
      content: Buffer.alloc(0),
      metadata: metadataOf("a.py", ONE),
      unchanged: true,
    });
    const changed = await s.getFile("a.py", { knownSha256: TWO });
    assert.equal(changed?.unchanged, false);
    assert.equal(changed?.content.toString(), "one\n");
    assert.equal((await s.getFile("a.py"))?.unchanged, false);

    const batch = await s.batchGetFiles(["a.py", "gone.py", "c.py"], { knownSha256: new Map([["a.py", ONE]]) });
    assert.deepEqual(
      batch.map((f) => f && { unchanged: f.unchanged, content: f.content.toString() }),
      [{ unchanged: true, content: "" }, undefined, { unchanged: false, content: "one\n" }],
    );
    await s.batchGetFiles(["c.py"], { knownSha256: { "c.py": TWO } });
    await s.batchGetFiles(["c.py"]);

    const fields = (r: { ifVersion?: bigint | undefined; ifSha256?: Buffer | undefined }) => ({
      ifVersion: r.ifVersion,
      ifSha256: r.ifSha256,
    });
    const requests = (name: string) => seen.filter(([n]) => n === name).map(([, r]) => r);
    assert.deepEqual((requests("CacheFile") as pb.CacheFileRequest[]).map(fields), [
      { ifVersion: 0n, ifSha256: undefined }, // present zero: "only if no file is there"
      { ifVersion: undefined, ifSha256: ONE },
      { ifVersion: undefined, ifSha256: undefined }, // no condition: neither sent
    ]);
    assert.deepEqual(
      (requests("BatchCacheFiles") as pb.BatchCacheFilesRequest[]).flatMap((r) => r.files.map(fields)),
      [
        { ifVersion: 0n, ifSha256: undefined },
        { ifVersion: 3n, ifSha256: ONE },
        { ifVersion: undefined, ifSha256: undefined },
      ],
    );
    assert.deepEqual((requests("CacheAnalysis") as pb.CacheAnalysisRequest[]).map(fields), [
      { ifVersion: undefined, ifSha256: TWO },
      { ifVersion: undefined, ifSha256: undefined },
    ]);
    assert.deepEqual((requests("InvalidateFile") as pb.InvalidateFileRequest[]).map(fields), [
      { ifVersion: 0n, ifSha256: undefined },
      { ifVersion: undefined, ifSha256: undefined },
    ]);
    assert.deepEqual(
      (requests("GetFile") as pb.GetFileRequest[]).map((r) => r.knownSha256),
      [ONE, TWO, undefined],
    );
    assert.deepEqual(
      (requests("BatchGetFiles") as pb.BatchGetFilesRequest[]).map((r) => ({ ...r.knownSha256 })),
      [{ "a.py": ONE }, { "c.py": TWO }, {}],
    );
  } finally {
    client.close();
    fake.stop();
  }
});

test("a failed precondition from the server rejects with PreconditionFailedError", async () => {
  const fake = await serve({
    cacheFile: (_call, callback) => {
      const metadata = trailers(Status.ABORTED, [
        errorInfo({ path: "a.py", current_version: "4", current_sha256: ONE.toString("hex") }),
      ]);
      callback({ code: Status.ABORTED, details: "precondition failed", metadata });
    },
  });
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    await assert.rejects(client.cacheFile("a.py", "two\n", { ifVersion: 0 }), (error: unknown) => {
      assert.ok(error instanceof PreconditionFailedError);
      assert.equal(error.path, "a.py");
      assert.equal(error.currentVersion, 4n);
      assert.deepEqual(error.currentSha256, ONE);
      assert.equal(error.details, "precondition failed");
      return true;
    });
  } finally {
    client.close();
    fake.stop();
  }
});
