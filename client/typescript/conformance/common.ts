/**
 * What the conformance runner's modules share: the JSON shapes it reads (a step's arguments) and
 * prints (outcomes), and the error of a step it cannot run.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Args = Readonly<Record<string, unknown>>;

/**
 * An int64 as the README asks, a JSON number; past 2^53 only a decimal string keeps it exact.
 */
export function int64(value: bigint): Json {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(value)
    : String(value);
}

/** The step's arguments are not what the operation takes: the adapter cannot run it. */
export class RunnerError extends Error {}
