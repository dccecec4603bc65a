// Watch: typed responses, automatic resume, the compaction error; no contextstore server (`make test`).
import assert from "node:assert/strict";
import { test } from "node:test";

import { type ClientReadableStream, Metadata, type ServerWritableStream } from "@grpc/grpc-js";

import { ContextStoreClient } from "../src/client";
import {
  ContextStoreError,
  PreconditionFailedError,
  RevisionCompactedError,
  Status,
  toContextStoreError,
} from "../src/errors";
import * as pb from "../src/gen/contextstore/v1/context_store";
import { ErrorInfo } from "../src/gen/google/rpc/error_details";
import { Status as RpcStatus } from "../src/gen/google/rpc/status";
import { Resume, resumingWatch, type WatchResponse } from "../src/watch";
import { serve } from "./fake-server";

type Call = ServerWritableStream<pb.WatchRequest, pb.WatchResponse>;

/** Trailers carrying a google.rpc.Status with one ErrorInfo, as the server sends them. */
function errorInfoTrailers(
  code: Status,
  reason: string,
  metadata: Record<string, string>,
  domain = "contextstore.dev",
): Metadata {
  const info = {
    typeUrl: "type.googleapis.com/google.rpc.ErrorInfo",
    value: Buffer.from(ErrorInfo.encode({ reason, domain, metadata }).finish()),
  };
  const status = RpcStatus.encode({ code, message: "m", details: [info] }).finish();
  const trailers = new Metadata();
  trailers.set("grpc-status-details-bin", Buffer.from(status));
  return trailers;
}

function serviceError(code: Status, metadata: Metadata): Error {
  return Object.assign(new Error(`${code} m`), { code, details: "m", metadata });
}

const COMPACTED = { oldest_revision: "1700000000000100", current_revision: "1700000000000250" };

test("OUT_OF_RANGE with a REVISION_COMPACTED ErrorInfo is a RevisionCompactedError", () => {
  const trailers = errorInfoTrailers(Status.OUT_OF_RANGE, "REVISION_COMPACTED", COMPACTED);
  const error = toContextStoreError(serviceError(Status.OUT_OF_RANGE, trailers));
  assert.ok(error instanceof RevisionCompactedError);
  assert.ok(error instanceof ContextStoreError, "a ContextStoreError like every other failure");
  assert.equal(error.codeName, "OUT_OF_RANGE");
  assert.equal(error.name, "RevisionCompactedError");
  assert.equal(error.oldestRevision, 1_700_000_000_000_100n);
  assert.equal(error.currentRevision, 1_700_000_000_000_250n);

  const plain: [Status, string, Record<string, string>, string?][] = [
    [Status.OUT_OF_RANGE, "SOMETHING_ELSE", COMPACTED],
    [Status.OUT_OF_RANGE, "REVISION_COMPACTED", COMPACTED, "example.com"],
    [Status.OUT_OF_RANGE, "REVISION_COMPACTED", { oldest_revision: "1" }], // current missing
    [Status.OUT_OF_RANGE, "REVISION_COMPACTED", { oldest_revision: "x", current_revision: "2" }],
    [Status.ABORTED, "REVISION_COMPACTED", COMPACTED],
    [Status.INVALID_ARGUMENT, "REVISION_COMPACTED", COMPACTED],
  ];
  for (const [code, reason, metadata, domain] of plain) {
    const other = toContextStoreError(serviceError(code, errorInfoTrailers(code, reason, metadata, domain)));
    assert.ok(!(other instanceof RevisionCompactedError), `${code} ${reason} ${JSON.stringify(metadata)}`);
    assert.ok(!(other instanceof PreconditionFailedError));
    assert.equal(other.code, code);
  }
});

const DOWN = new ContextStoreError(Status.UNAVAILABLE, "down");

/** A clock that moves only when told. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1_000_000;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

test("a dropped stream resumes at once, then backs off from 100 ms doubling to 2 s", () => {
  const resume = new Resume(3_600_000, fakeClock().now); // the clock stands still: nothing is cut short
  const waits = Array.from({ length: 9 }, () => resume.backoffMs(DOWN));
  assert.deepEqual(waits, [0, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
});

test("resuming goes on until the resume timeout has passed since the first failure, never past it", () => {
  const clock = fakeClock();
  const resume = new Resume(1_000, clock.now);
  const at = (ms: number): number | undefined => {
    clock.advance(ms);
    return resume.backoffMs(DOWN);
  };
  assert.equal(at(0), 0); // the run begins: at once
  assert.equal(at(10), 100);
  assert.equal(at(690), 200); // at 700 ms: 300 ms left
  assert.equal(at(200), 100); // at 900 ms: 400 ms, cut to the 100 ms left
  assert.equal(at(100), undefined); // at 1 s: the timeout has passed
});

test("a response received resets the resume timeout", () => {
  const clock = fakeClock();
  const resume = new Resume(1_000, clock.now);
  for (const ms of [0, 500, 400]) {
    clock.advance(ms);
    assert.notEqual(resume.backoffMs(DOWN), undefined);
  }
  resume.received();
  clock.advance(600); // 1.5 s after the first failure, but the first of a new run
  assert.equal(resume.backoffMs(DOWN), 0);
  clock.advance(900);
  assert.equal(resume.backoffMs(DOWN), 100);
  clock.advance(100);
  assert.equal(resume.backoffMs(DOWN), undefined);
});

test("only UNAVAILABLE is resumed; a zero resume timeout resumes nothing", () => {
  const resume = new Resume(1_000, fakeClock().now);
  for (const code of [Status.OUT_OF_RANGE, Status.INVALID_ARGUMENT, Status.INTERNAL]) {
    assert.equal(resume.backoffMs(new ContextStoreError(code, "no")), undefined);
  }
  assert.equal(resume.backoffMs(DOWN), 0, "and they started no run");
  assert.equal(new Resume(0).backoffMs(DOWN), undefined);
  assert.throws(() => new Resume(Number.NaN), TypeError);
});

function change(revision: bigint, path: string): pb.WatchResponse {
  const kind = pb.WatchEventKind.WATCH_EVENT_KIND_FILE_CACHED;
  const event = { ...pb.WatchEvent.create(), kind, path, version: 1n };
  return { revision, events: [event], progress: false };
}

function progress(revision: bigint): pb.WatchResponse {
  return { revision, events: [], progress: true };
}

/** Ends the call with `code` after its response headers, so the channel's retry policy stays out of it. */
function fail(call: Call, code: Status, metadata = new Metadata()): void {
  call.sendMetadata(new Metadata());
  call.emit("error", { code, details: "dropped", metadata });
}

async function collect(
  responses: AsyncGenerator<WatchResponse, void, undefined>,
  count: number,
): Promise<WatchResponse[]> {
  const collected: WatchResponse[] = [];
  for await (const response of responses) {
    collected.push(response);
    if (collected.length === count) break;
  }
  return collected;
}

test("watch resumes from the last revision received, with no gap and no duplicate", async () => {
  // Like the conformance server: every stream ends (UNAVAILABLE) after its first change; the
  // second call also ends once before sending anything.
  const seen: pb.WatchRequest[] = [];
  const deadlines: (Date | number)[] = [];
  const fake = await serve({
    watch: (call: Call) => {
      seen.push(call.request);
      deadlines.push(call.getDeadline());
      if (seen.length === 2) return fail(call, Status.UNAVAILABLE);
      const start = call.request.startRevision === 0n ? 10n : call.request.startRevision;
      call.write(progress(start));
      call.write(change(start + 1n, `f${start + 1n}`));
      fail(call, Status.UNAVAILABLE);
    },
  });
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    const watch = client.session("s1").watch({ pathPrefix: "f" });
    assert.equal(seen.length, 0, "nothing is sent before iteration starts");
    const responses = await collect(watch, 4);
    assert.deepEqual(
      responses.map((r) => [r.revision, r.progress, r.events.map((e) => e.path)]),
      [
        [10n, true, []], // the first stream's progress is yielded...
        [11n, false, ["f11"]],
        [12n, false, ["f12"]], // ...a resumed stream's, at the revision already seen, is not
        [13n, false, ["f13"]],
      ],
    );
    assert.deepEqual(responses[1]?.events[0], {
      kind: "FILE_CACHED",
      path: "f11",
      sha256: Buffer.alloc(0),
      version: 1n,
      analysisType: "",
      reason: "UNSPECIFIED",
    });
    assert.deepEqual(
      seen.map((r) => [r.sessionId, r.pathPrefix, r.startRevision]),
      [
        ["s1", "f", 0n], // from now
        ["s1", "f", 11n], // dropped before sending anything...
        ["s1", "f", 11n], // ...so the same start again
        ["s1", "f", 12n],
      ],
    );
    assert.deepEqual(deadlines, [Infinity, Infinity, Infinity, Infinity], "no per-call deadline on a watch");
  } finally {
    client.close();
    fake.stop();
  }
});

test("watch gives up with UNAVAILABLE once its resume timeout has passed", async () => {
  const starts: bigint[] = [];
  const fake = await serve({
    watch: (call: Call) => {
      starts.push(call.request.startRevision);
      fail(call, Status.UNAVAILABLE);
    },
  });
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    const began = performance.now();
    await assert.rejects(
      collect(client.watch({ startRevision: 7, resumeTimeoutMs: 300 }), 1),
      (error: unknown) => error instanceof ContextStoreError && error.code === Status.UNAVAILABLE,
    );
    const elapsed = performance.now() - began;
    assert.ok(elapsed >= 300 && elapsed < 5_000, `${elapsed} ms`);
    assert.ok(starts.length >= 2 && starts.length <= 10, `${starts.length} attempts`);
    assert.ok(starts.every((start) => start === 7n), "every attempt from the caller's start revision");
    assert.throws(() => client.watch({ resumeTimeoutMs: Number.NaN }), TypeError);
  } finally {
    client.close();
    fake.stop();
  }
});

/** A Watch call that yields `messages`, then ends with UNAVAILABLE (or with OK when `ok`). */
function scriptedCall(messages: pb.WatchResponse[], ok = false): ClientReadableStream<pb.WatchResponse> {
  async function* responses(): AsyncGenerator<pb.WatchResponse> {
    yield* messages;
    if (!ok) throw serviceError(Status.UNAVAILABLE, new Metadata());
  }
  return Object.assign(responses(), { cancel: () => {} }) as unknown as ClientReadableStream<pb.WatchResponse>;
}

test("watch carries on while no run of failures lasts the resume timeout; a response resets it", async () => {
  // A clock that moves 1 s at each call, and a 2.5 s timeout: 3 failed calls (2 s), one that
  // receives, then drops (a new run), 2 failed ones (2 s again), one that receives: 5 s of
  // failures in all, never 2.5 s since a response.
  const script = [[], [], [], [progress(7n), change(8n, "a")], [], [], [progress(8n), change(9n, "b")]];
  const clock = fakeClock();
  const starts: bigint[] = [];
  const open = (start: bigint): ClientReadableStream<pb.WatchResponse> => {
    clock.advance(1_000);
    starts.push(start);
    return scriptedCall(script[starts.length - 1] ?? []);
  };
  const watch = resumingWatch(open, 7n, undefined, new Resume(2_500, clock.now));
  const got = await collect(watch, 3);
  assert.deepEqual(got.map((r) => r.revision), [7n, 8n, 9n]); // the second 8n, a resumed progress, is not yielded
  assert.deepEqual(starts, [7n, 7n, 7n, 7n, 8n, 8n, 8n]);

  // Without the responses, the same clock gives up at the 4th call.
  starts.length = 0;
  const never = resumingWatch(
    (start) => {
      clock.advance(1_000);
      starts.push(start);
      return scriptedCall([]);
    },
    7n,
    undefined,
    new Resume(2_500, clock.now),
  );
  await assert.rejects(collect(never, 1), (error: unknown) => {
    return error instanceof ContextStoreError && error.code === Status.UNAVAILABLE;
  });
  assert.deepEqual(starts, [7n, 7n, 7n, 7n]);
});

test("a compacted start revision or another error ends the watch at once, not resumed", async () => {
  const calls: bigint[] = [];
  const fake = await serve({
    watch: (call: Call) => {
      calls.push(call.request.startRevision);
      if (call.request.startRevision < 0n) {
        call.emit("error", { code: Status.INVALID_ARGUMENT, details: "start_revision", metadata: new Metadata() });
      } else {
        call.emit("error", {
          code: Status.OUT_OF_RANGE,
          details: "compacted",
          metadata: errorInfoTrailers(Status.OUT_OF_RANGE, "REVISION_COMPACTED", COMPACTED),
        });
      }
    },
  });
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    await assert.rejects(collect(client.watch({ startRevision: 1n }), 1), (error: unknown) => {
      assert.ok(error instanceof RevisionCompactedError);
      assert.equal(error.oldestRevision, 1_700_000_000_000_100n);
      assert.equal(error.currentRevision, 1_700_000_000_000_250n);
      assert.equal(error.details, "compacted");
      return true;
    });
    await assert.rejects(collect(client.watch({ startRevision: -1 }), 1), (error: unknown) => {
      return error instanceof ContextStoreError && error.code === Status.INVALID_ARGUMENT;
    });
    assert.deepEqual(calls, [1n, -1n], "one call each");
    assert.throws(() => client.watch({ startRevision: 1.5 }), TypeError);
  } finally {
    client.close();
    fake.stop();
  }
});

test("break cancels the call; an aborted signal rejects with CANCELLED", async () => {
  let cancelled = 0;
  const fake = await serve({
    watch: (call: Call) => {
      call.on("cancelled", () => cancelled++);
      call.write(progress(5n)); // then nothing: the stream stays open
    },
  });
  const client = new ContextStoreClient(fake.target, { timeoutMs: 5_000 });
  try {
    assert.deepEqual((await collect(client.watch(), 1)).map((r) => r.revision), [5n]);
    for (let i = 0; i < 100 && cancelled < 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(cancelled, 1, "the server saw the call cancelled");

    const controller = new AbortController();
    const watch = client.watch({ signal: controller.signal });
    assert.equal((await watch.next()).value?.revision, 5n);
    const pending = watch.next(); // waits for a change that never comes...
    controller.abort(); // ...until the caller gives up
    await assert.rejects(pending, (error: unknown) => {
      return error instanceof ContextStoreError && error.code === Status.CANCELLED;
    });
    await assert.rejects(collect(client.watch({ signal: controller.signal }), 1), (error: unknown) => {
      return error instanceof ContextStoreError && error.code === Status.CANCELLED; // aborted before it started
    });
  } finally {
    client.close();
    fake.stop();
  }
});
