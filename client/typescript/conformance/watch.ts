/**
 * The runner's `watch` operation (tests/conformance/README.md): a watch through the typed
 * client's `watch` on the step's handle, which resumes on its own each time the conformance
 * server ends the stream; progress responses are skipped, the first `responses` that carry events
 * are returned, then the watch is closed (which cancels the call).
 */

import {
  ContextStoreError,
  Status,
  type ContextStoreSession,
  type WatchEvent,
  type WatchOptions,
  type WatchResponse,
} from "@contextstore/client";

import { int64, RunnerError, type Args, type Json } from "./common";

function event(e: WatchEvent): Json {
  return {
    kind: e.kind === "UNSPECIFIED" ? "" : e.kind,
    path: e.path,
    sha256: e.sha256.toString("base64"),
    version: int64(e.version),
    analysis_type: e.analysisType,
    reason: e.reason === "UNSPECIFIED" ? "" : e.reason,
  };
}

function response(r: WatchResponse): Json {
  return { revision: int64(r.revision), events: r.events.map(event) };
}

function integer(args: Args, name: string): number | undefined {
  const value = args[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new RunnerError(`argument ${name} is not an integer`);
  }
  return value;
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `start_revision`, or the revision of the result of step `after_step` of the same case (whose
 * outcome is `{"result": {..., "revision": R}}`), or neither: from now.
 */
function startRevision(args: Args, earlier: readonly Json[]): bigint | undefined {
  const afterStep = integer(args, "after_step");
  if (afterStep === undefined) {
    const start = integer(args, "start_revision");
    return start === undefined ? undefined : BigInt(start);
  }
  const outcome = earlier[afterStep];
  const result = isObject(outcome) ? outcome.result : undefined;
  const revision = isObject(result) ? result.revision : undefined;
  if (typeof revision !== "number" && typeof revision !== "string") {
    throw new RunnerError(`step ${afterStep} has no result with a revision to watch after`);
  }
  return BigInt(revision);
}

/**
 * Runs the whole operation within `deadlineMs`: past it, the watch is aborted and the outcome is
 * DEADLINE_EXCEEDED, as a unary call's deadline would give.
 */
export async function watch(
  handle: ContextStoreSession,
  args: Args,
  earlier: readonly Json[],
  deadlineMs: number,
): Promise<Json> {
  const wanted = integer(args, "responses");
  if (wanted === undefined || wanted < 0) throw new RunnerError("argument responses is not a count");
  const options: WatchOptions = {};
  const start = startRevision(args, earlier);
  const pathPrefix = args.path_prefix;
  if (start !== undefined) options.startRevision = start;
  if (pathPrefix !== undefined && pathPrefix !== null) {
    if (typeof pathPrefix !== "string") throw new RunnerError("argument path_prefix is not a string");
    options.pathPrefix = pathPrefix;
  }
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), deadlineMs);
  const collected: Json[] = [];
  try {
    for await (const r of handle.watch({ ...options, signal: deadline.signal })) {
      if (wanted === 0) break; // the stream's first response, always a progress one
      if (r.progress) continue;
      collected.push(response(r));
      if (collected.length >= wanted) break; // ends the iteration: the call is cancelled
    }
  } catch (error) {
    if (deadline.signal.aborted && error instanceof ContextStoreError && error.code === Status.CANCELLED) {
      const got = `${collected.length} of ${wanted} responses by the step's deadline`;
      throw new ContextStoreError(Status.DEADLINE_EXCEEDED, got);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return collected;
}
