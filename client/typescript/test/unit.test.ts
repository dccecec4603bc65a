// Unit tests that need no contextstore server: `make test` (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Metadata } from "@grpc/grpc-js";

import { ContextStoreClient, retriedMethods, timestampFromDate, timestampToDate } from "../src/client";
import * as pb from "../src/gen/contextstore/v1/context_store";
import { ContextStoreError, Status, decodeStatusDetails, toContextStoreError } from "../src/errors";
import { BadRequest, QuotaFailure } from "../src/gen/google/rpc/error_details";
import { Status as RpcStatus } from "../src/gen/google/rpc/status";
import { serve } from "./fake-server";

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

test("timestamps convert to and from Date", () => {
  const date = new Date("1969-12-31T23:59:59.250Z");
  assert.deepEqual(timestampFromDate(date), { seconds: -1n, nanos: 250_000_000 });
  assert.equal(timestampToDate(timestampFromDate(date)).getTime(), date.getTime());
});

/** An in-process service that records each request and answers the few RPCs below. */
async function fakeServer(): Promise<{ target: string; seen: [string, unknown][]; stop: () => void }> {
  const seen: [string, unknown][] = [];
  const counters = (files: bigint) => ({ ...pb.GetStatsResponse.create(), files });
  const implementation: Partial<pb.ContextStoreServiceServer> = {
    getStats: (call, callback) => {
      seen.push(["GetStats", call.request]);
      callback(null, counters(1n));
    },
    getStoreStats: (call, callback) => {
      seen.push(["GetStoreStats", call.request]);
      callback(null, { ...pb.GetStoreStatsResponse.create(), files: 7n, bytes: 100n, heldBytes: 60n });
    },
    invalidateAnalysis: (call, callback) => {
      seen.push(["InvalidateAnalysis", call.request]);
      callback(null, { analysesRemoved: call.request.analysisType === undefined ? 3n : 1n, revision: 5n });
    },
    clearSession: (call, callback) => {
      seen.push(["ClearSession", call.request]);
      callback(null, { filesRemoved: 2n, analysesRemoved: 1n, revision: 6n });
    },
    getServerInfo: (call, callback) => {
      seen.push(["GetServerInfo", call.request]);
      callback(null, {
        ...pb.GetServerInfoResponse.create(),
        backend: "memory",
        backendProperties: { stripes: "64", eviction: "exact store-wide LRU" },
        limits: {
          ...pb.Limits.create(),
          maxInflightResponseBytes: 16_777_216n,
          receiveTimeout: { seconds: 7n, nanos: 500_000_000 },
        },
      });
    },
  };
  return { ...(await serve(implementation)), seen };
}

test("each method sends its RPC in the handle's namespace", async () => {
  const fake = await fakeServer();
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    const session = client.session("s1");
    const mine = await session.stats();
    assert.equal(mine.files, 1n);
    assert.equal("heldBytes" in mine, false); // a namespace's stats carry no held_bytes
    assert.equal((await client.stats()).files, 1n);
    const store = await session.storeStats();
    assert.deepEqual([store.files, store.bytes, store.heldBytes], [7n, 100n, 60n]);
    assert.equal(await session.invalidateAnalysis("a.py", "ast"), 1n);
    assert.equal(await session.invalidateAnalyses("a.py"), 3n);
    assert.deepEqual(await client.clearSession(), { filesRemoved: 2n, analysesRemoved: 1n, revision: 6n });
    const info = await client.serverInfo();
    assert.deepEqual(info.backendProperties, { stripes: "64", eviction: "exact store-wide LRU" });
    assert.equal(info.limits?.maxInflightResponseBytes, 16_777_216n);
    assert.deepEqual(info.limits?.receiveTimeout, { seconds: 7n, nanos: 500_000_000 });
    assert.deepEqual(fake.seen, [
      ["GetStats", { sessionId: "s1" }], // stats(): the handle's own namespace...
      ["GetStats", { sessionId: undefined }], // ...the global one on the client itself
      ["GetStoreStats", {}], // storeStats(): the whole store, whatever the handle
      ["InvalidateAnalysis", { sessionId: "s1", path: "a.py", analysisType: "ast" }],
      ["InvalidateAnalysis", { sessionId: "s1", path: "a.py", analysisType: undefined }], // every type
      ["ClearSession", { sessionId: undefined }],
      ["GetServerInfo", {}],
    ]);
  } finally {
    client.close();
    fake.stop();
  }
});

test("the retried methods are the contract's NO_SIDE_EFFECTS reads, and only those", () => {
  assert.deepEqual(
    new Set(retriedMethods()),
    new Set([
      "GetFile",
      "GetMetadata",
      "GetAnalysis",
      "BatchGetFiles",
      "ListFiles",
      "GetStats",
      "GetStoreStats",
      "GetServerInfo",
      "Watch", // the channel retries it only until the server answers: resuming is the client's
    ]),
  );
  assert.equal(retriedMethods().length, 9);
});

/** FileMetadata of `path`, as a listing returns it. */
function listed(path: string): pb.FileMetadata {
  return { ...pb.FileMetadata.create(), path, size: 1n, version: 1n };
}

/**
 * A ListFiles service over fixed pages: page i is answered to the token `t<i>` ("" for the
 * first) and names `t<i+1>` as the next, but the last, which names none.
 */
async function pagedServer(
  pages: readonly (readonly string[])[],
): Promise<{ target: string; seen: pb.ListFilesRequest[]; stop: () => void }> {
  const seen: pb.ListFilesRequest[] = [];
  const server = await serve({
    listFiles: (call, callback) => {
      seen.push(call.request);
      const index = call.request.pageToken === "" ? 0 : Number(call.request.pageToken.slice(1));
      const files = pages[index];
      if (!call.request.pageToken.match(/^(t\d+)?$/) || files === undefined) {
        callback({ code: Status.INVALID_ARGUMENT, details: "bad page_token", metadata: new Metadata() });
        return;
      }
      const nextPageToken = index + 1 < pages.length ? `t${index + 1}` : "";
      callback(null, { files: files.map(listed), nextPageToken, revision: 100n + BigInt(index) });
    },
  });
  return { ...server, seen };
}

test("listFiles follows the page tokens lazily until an empty one, with the prefix and page size", async () => {
  // The second page is empty and not the last: the iterator goes on to the third.
  const fake = await pagedServer([["a/1", "a/2"], [], ["a/3"]]);
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    const files = client.session("s1").listFiles({ pathPrefix: "a/", pageSize: 2 });
    assert.equal(fake.seen.length, 0, "nothing is fetched before iteration starts");
    const first = await files.next();
    assert.equal(first.done, false);
    assert.equal(first.value?.path, "a/1");
    assert.equal(fake.seen.length, 1, "one page fetched for its first file");
    const paths: string[] = [];
    for await (const m of files) paths.push(m.path);
    assert.deepEqual(paths, ["a/2", "a/3"]);
    assert.deepEqual(fake.seen, [
      { sessionId: "s1", pathPrefix: "a/", pageSize: 2, pageToken: "" },
      { sessionId: "s1", pathPrefix: "a/", pageSize: 2, pageToken: "t1" },
      { sessionId: "s1", pathPrefix: "a/", pageSize: 2, pageToken: "t2" },
    ]);

    // Without options: the global namespace, every path, the server's page size.
    fake.seen.length = 0;
    const all: string[] = [];
    for await (const m of client.listFiles()) all.push(m.path);
    assert.deepEqual(all, ["a/1", "a/2", "a/3"]);
    assert.deepEqual(fake.seen[0], { sessionId: undefined, pathPrefix: "", pageSize: 0, pageToken: "" });

    // Stopping early fetches no further page.
    fake.seen.length = 0;
    for await (const m of client.listFiles()) {
      assert.equal(m.path, "a/1");
      break;
    }
    assert.equal(fake.seen.length, 1);
  } finally {
    client.close();
    fake.stop();
  }
});

test("listFilesPage returns one page and the token to pass back", async () => {
  const fake = await pagedServer([["a/1"], ["a/2"]]);
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    const session = client.session("s1");
    const first = await session.listFilesPage({ pathPrefix: "a/", pageSize: 1 });
    assert.deepEqual(first.files.map((m) => m.path), ["a/1"]);
    assert.equal(first.nextPageToken, "t1");
    assert.equal(first.revision, 100n, "the revision the page was read at");
    const last = await session.listFilesPage({ pathPrefix: "a/", pageSize: 1, pageToken: first.nextPageToken });
    assert.deepEqual(last.files.map((m) => m.path), ["a/2"]);
    assert.equal(last.nextPageToken, "");
    assert.equal(last.revision, 101n);
    assert.deepEqual(fake.seen[1], { sessionId: "s1", pathPrefix: "a/", pageSize: 1, pageToken: "t1" });
    await assert.rejects(session.listFilesPage({ pageToken: "bogus" }), (error: unknown) => {
      return error instanceof ContextStoreError && error.code === Status.INVALID_ARGUMENT;
    });
    await assert.rejects(session.listFilesPage({ pageSize: 1.5 }), TypeError); // not sent
    assert.equal(fake.seen.length, 3);
  } finally {
    client.close();
    fake.stop();
  }
});

test("invalidatePrefix sends the prefix in the handle's namespace and resolves to what was removed", async () => {
  const seen: pb.InvalidatePrefixRequest[] = [];
  const fake = await serve({
    invalidatePrefix: (call, callback) => {
      seen.push(call.request);
      callback(null, { filesRemoved: 2n, analysesRemoved: 3n, revision: 9n });
    },
  });
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    assert.deepEqual(await client.session("s1").invalidatePrefix("a/"), {
      filesRemoved: 2n,
      analysesRemoved: 3n,
      revision: 9n,
    });
    await client.invalidatePrefix("b/");
    assert.deepEqual(seen, [
      { sessionId: "s1", pathPrefix: "a/" },
      { sessionId: undefined, pathPrefix: "b/" },
    ]);
  } finally {
    client.close();
    fake.stop();
  }
});

test("the channel retries a read on UNAVAILABLE, never a write", async () => {
  const attempts = { GetStats: 0, ClearSession: 0 };
  const unavailable = { code: Status.UNAVAILABLE, details: "try again", metadata: new Metadata() };
  const fake = await serve({
    getStats: (_call, callback) => {
      attempts.GetStats++;
      if (attempts.GetStats === 1) callback(unavailable);
      else callback(null, pb.GetStatsResponse.create());
    },
    clearSession: (_call, callback) => {
      attempts.ClearSession++;
      callback(unavailable);
    },
  });
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    await client.stats();
    await assert.rejects(client.clearSession(), (error: unknown) => {
      return error instanceof ContextStoreError && error.code === Status.UNAVAILABLE;
    });
    assert.deepEqual(attempts, { GetStats: 2, ClearSession: 1 });
  } finally {
    client.close();
    fake.stop();
  }
});

test("a list of addresses spreads the calls over every server (round_robin)", async () => {
  const answered = [0, 0];
  const servers = await Promise.all(
    answered.map((_, i) =>
      serve({
        getStats: (_call, callback) => {
          answered[i] = (answered[i] ?? 0) + 1;
          callback(null, pb.GetStatsResponse.create());
        },
      }),
    ),
  );
  const client = new ContextStoreClient(servers.map((s) => s.target).join(","), { timeoutMs: 5_000 });
  try {
    // round_robin picks a server once its connection is up, and the two come up in any order:
    // call until both have answered (pick_first would send every call to the first).
    for (let calls = 0; answered.includes(0) && calls < 200; calls++) await client.stats();
    assert.ok(!answered.includes(0), `every call went to one server: ${answered.join(", ")}`);
    // Both connected: the calls take turns.
    const before = [...answered];
    for (let calls = 0; calls < 10; calls++) await client.stats();
    assert.deepEqual(
      answered.map((count, i) => count - (before[i] ?? 0)),
      [5, 5],
    );
  } finally {
    client.close();
    for (const server of servers) server.stop();
  }
});
