/**
 * Watching a namespace's changes (Watch): the typed responses and events a handle's `watch`
 * yields, and the stream behind it, which resumes on its own when the server drops it.
 *
 * Why the client resumes: the contract ends a Watch stream with UNAVAILABLE whenever the server
 * drops it (restarting, draining, a lost connection, or a server that ends long-lived streams on
 * purpose), and makes `start_revision` exclusive, so reopening from the last revision received
 * replays exactly what was missed. Doing that here means every caller gets it right. What cannot
 * be resumed without a gap (OUT_OF_RANGE: the history no longer reaches back that far) is thrown as
 * `RevisionCompactedError` instead.
 */

import type { ClientReadableStream } from "@grpc/grpc-js";

import * as pb from "./gen/contextstore/v1/context_store";
import { ContextStoreError, Status, toContextStoreError } from "./errors";
import type { CallOptions } from "./transport";

/** What changed: the contract's WatchEventKind without its `WATCH_EVENT_KIND_` prefix. */
export type WatchEventKind =
  | "FILE_CACHED"
  | "FILE_INVALIDATED"
  | "FILE_EVICTED"
  | "ANALYSIS_CACHED"
  | "ANALYSIS_REMOVED"
  | "SESSION_CLEARED"
  | "SESSION_EXPIRED"
  /** Unset, or a kind a newer server sends that this client does not know. */
  | "UNSPECIFIED";

/** Why an analysis was removed (ANALYSIS_REMOVED); `"UNSPECIFIED"` for every other event. */
export type RemovalReason = "STALE" | "INVALIDATED" | "EVICTED" | "UNSPECIFIED";

/** One change to one entry, or to the whole namespace (SESSION_CLEARED, SESSION_EXPIRED). */
export interface WatchEvent {
  readonly kind: WatchEventKind;
  /** The entry's path; `""` for session events. */
  readonly path: string;
  /** FILE_CACHED: the stored content's SHA-256 digest (32 bytes); empty otherwise. */
  readonly sha256: Buffer;
  /** FILE_CACHED: the stored file's version; `0n` otherwise. */
  readonly version: bigint;
  /** ANALYSIS_CACHED and ANALYSIS_REMOVED: the analysis type; `""` otherwise. */
  readonly analysisType: string;
  /** ANALYSIS_REMOVED: why. */
  readonly reason: RemovalReason;
}

/**
 * One revision of the namespace: the events of one atomic change (a call, a batch, a clear),
 * whole and in the order they happened, or, with `progress` and no events, the revision up to
 * which nothing was missed (a stream's first response, and a heartbeat while nothing changes).
 */
export interface WatchResponse {
  readonly revision: bigint;
  readonly events: readonly WatchEvent[];
  readonly progress: boolean;
}

/**
 * Where a watch starts and what it sees. There is no `timeoutMs`: a watch lives until the caller
 * stops it (`break`, `return()`, or `signal`), never the client's per-call deadline.
 */
export interface WatchOptions extends Omit<CallOptions, "timeoutMs"> {
  /**
   * Exclusive: the last revision the caller has seen (a write's, a `listFilesPage`'s, a watch
   * response's); every change after it is replayed. Absent or `0`: from now.
   */
  startRevision?: bigint | number | undefined;
  /** Only events whose path starts with it (session events always arrive); absent or `""`: all. */
  pathPrefix?: string | undefined;
  /**
   * How long to keep resuming a dropped stream, in milliseconds since the first failure of a run
   * of failures with nothing received (a response ends the run); then the last UNAVAILABLE error
   * is thrown. Absent: `WATCH_RESUME.resumeTimeoutMs` (30 s); `0`: never resume; `Infinity`:
   * never give up.
   */
  resumeTimeoutMs?: number | undefined;
}

/**
 * How a dropped stream is resumed: while less than `resumeTimeoutMs` (unless the watch's own
 * `resumeTimeoutMs` says otherwise) has passed since the first failure of a run of failures, the
 * first retry at once, then after `initialBackoffMs`, doubling up to `maxBackoffMs`, never past
 * the time left; then the last UNAVAILABLE error is thrown. A response received ends the run.
 * 30 s is enough for a server to restart and the channel to reconnect (gRPC's reconnect backoff
 * alone is about 1 s).
 */
export const WATCH_RESUME = Object.freeze({ resumeTimeoutMs: 30_000, initialBackoffMs: 100, maxBackoffMs: 2_000 });

/**
 * How long a watch waits before trying again, and when it gives up: the policy every client
 * shares (the Python client's `Resume`). `now` is a clock in milliseconds (the tests' own).
 */
export class Resume {
  private failingSince: number | undefined; // when the current run of failures began
  private attempts = 0; // retries in the current run

  constructor(
    private readonly patienceMs: number = WATCH_RESUME.resumeTimeoutMs,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (typeof patienceMs !== "number" || Number.isNaN(patienceMs)) {
      throw new TypeError(`resumeTimeoutMs must be a number of milliseconds, got ${patienceMs}`);
    }
  }

  /** A response arrived: the run of failures, if any, is over. */
  received(): void {
    this.failingSince = undefined;
    this.attempts = 0;
  }

  /**
   * The milliseconds to wait before resuming after `error`; `undefined`: throw it (not
   * UNAVAILABLE, or the resume timeout has passed since the run of failures began).
   */
  backoffMs(error: ContextStoreError): number | undefined {
    if (error.code !== Status.UNAVAILABLE) return undefined;
    const now = this.now();
    this.failingSince ??= now;
    const left = this.failingSince + this.patienceMs - now;
    if (!(left > 0)) return undefined;
    this.attempts += 1;
    // The first at once (a server ending a stream on purpose is up), then backing off.
    if (this.attempts === 1) return 0;
    const delay = WATCH_RESUME.initialBackoffMs * 2 ** (this.attempts - 2);
    return Math.min(delay, WATCH_RESUME.maxBackoffMs, left);
  }
}

const KINDS: Readonly<Record<number, WatchEventKind>> = {
  [pb.WatchEventKind.WATCH_EVENT_KIND_FILE_CACHED]: "FILE_CACHED",
  [pb.WatchEventKind.WATCH_EVENT_KIND_FILE_INVALIDATED]: "FILE_INVALIDATED",
  [pb.WatchEventKind.WATCH_EVENT_KIND_FILE_EVICTED]: "FILE_EVICTED",
  [pb.WatchEventKind.WATCH_EVENT_KIND_ANALYSIS_CACHED]: "ANALYSIS_CACHED",
  [pb.WatchEventKind.WATCH_EVENT_KIND_ANALYSIS_REMOVED]: "ANALYSIS_REMOVED",
  [pb.WatchEventKind.WATCH_EVENT_KIND_SESSION_CLEARED]: "SESSION_CLEARED",
  [pb.WatchEventKind.WATCH_EVENT_KIND_SESSION_EXPIRED]: "SESSION_EXPIRED",
};

const REASONS: Readonly<Record<number, RemovalReason>> = {
  [pb.RemovalReason.REMOVAL_REASON_STALE]: "STALE",
  [pb.RemovalReason.REMOVAL_REASON_INVALIDATED]: "INVALIDATED",
  [pb.RemovalReason.REMOVAL_REASON_EVICTED]: "EVICTED",
};

export function toWatchEvent(event: pb.WatchEvent): WatchEvent {
  return {
    kind: KINDS[event.kind] ?? "UNSPECIFIED",
    path: event.path,
    sha256: event.sha256,
    version: event.version,
    analysisType: event.analysisType,
    reason: REASONS[event.reason] ?? "UNSPECIFIED",
  };
}

export function toWatchResponse(response: pb.WatchResponse): WatchResponse {
  return { revision: response.revision, events: response.events.map(toWatchEvent), progress: response.progress };
}

/** The Watch request of a handle bound to `sessionId` (`undefined`: the global namespace). */
export function watchRequest(sessionId: string | undefined, options: WatchOptions): pb.WatchRequest {
  const start = options.startRevision ?? 0n;
  if (typeof start === "number" && !Number.isSafeInteger(start)) {
    throw new TypeError(`startRevision must be an integer, got ${start}`);
  }
  // A negative one is sent as is: the server rejects it (INVALID_ARGUMENT start_revision).
  return { sessionId, startRevision: BigInt(start), pathPrefix: options.pathPrefix ?? "" };
}

function cancelled(): ContextStoreError {
  return new ContextStoreError(Status.CANCELLED, "watch aborted");
}

/** Waits `ms` (at once for 0), or rejects with CANCELLED when `signal` aborts first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelled());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The responses of Watch calls, one call after another: `open(start)` opens one from `start`
 * (exclusive). The first is opened from `startRevision`; when one ends with UNAVAILABLE (or,
 * which the server never does, with OK), the next is opened from the revision of the last
 * response received (from `startRevision` while none was), when `resume` says, until it gives up.
 * A resumed stream's first response, a progress response at that same revision, tells the
 * caller nothing new and is not yielded, so a resume shows no duplicate. Any other failure is
 * thrown, mapped as every call's is (`RevisionCompactedError` for a compacted start revision).
 * Ending the iteration (`break`, `return()`) or aborting `signal` cancels the open call.
 */
export async function* resumingWatch(
  open: (start: bigint) => ClientReadableStream<pb.WatchResponse>,
  startRevision: bigint,
  signal: AbortSignal | undefined,
  resume: Resume = new Resume(),
): AsyncGenerator<WatchResponse, void, undefined> {
  let last: bigint | undefined; // the revision of the last response received
  for (;;) {
    if (signal?.aborted) throw cancelled();
    const resumedFrom = last;
    const call = open(last ?? startRevision);
    const onAbort = (): void => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    let received = false;
    let dropped: ContextStoreError;
    try {
      for await (const message of call as AsyncIterable<pb.WatchResponse>) {
        const repeat = !received && resumedFrom !== undefined && message.progress && message.revision === resumedFrom;
        received = true;
        resume.received();
        last = message.revision;
        if (!repeat) yield toWatchResponse(message);
      }
      dropped = new ContextStoreError(Status.UNAVAILABLE, "the watch stream ended without a status");
    } catch (error) {
      dropped = toContextStoreError(error);
      if (dropped.code !== Status.UNAVAILABLE) throw dropped;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      call.cancel(); // a no-op once the call has ended; else (break, a throw) it ends it
    }
    const wait = resume.backoffMs(dropped);
    if (wait === undefined) throw dropped;
    await pause(wait, signal);
  }
}
