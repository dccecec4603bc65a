/**
 * The conformance file's generators (`$bytes`, `$string`) and the partial
 * matcher of expected responses, as tests/conformance/README.md defines them
 * (and as the Python runner, tests/conformance/python_runner.py, reads them).
 */

import type { JsonValue } from "./protojson";

type JsonObject = { [key: string]: JsonValue };

// -- the case file's generators ---------------------------------------------------------

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function onlyKey(value: JsonObject, key: string): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === key;
}

function fillSpec(spec: JsonValue | undefined, where: string): { fill: string; count: number } {
  if (!isObject(spec) || typeof spec.fill !== "string" || typeof spec.count !== "number") {
    throw new Error(`${where}: expected {"fill": STRING, "count": NUMBER}`);
  }
  return { fill: spec.fill, count: spec.count };
}

/** Replaces the `$bytes` and `$string` generators, recursively. */
export function expand(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(expand);
  if (!isObject(value)) return value;
  if (onlyKey(value, "$bytes")) {
    const { fill, count } = fillSpec(value.$bytes, "$bytes");
    return Buffer.from(fill.repeat(count), "utf8").toString("base64");
  }
  if (onlyKey(value, "$string")) {
    const { fill, count } = fillSpec(value.$string, "$string");
    return fill.repeat(count);
  }
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) out[key] = expand(item);
  return out;
}

// -- the partial matcher ------------------------------------------------------------------

type Actual = JsonValue | undefined;

function isDefault(value: Actual): boolean {
  return value === undefined || value === null || value === false || value === 0 || value === "" || value === "0";
}

function isEmptyContainer(value: Actual): boolean {
  return (Array.isArray(value) && value.length === 0) || (isObject(value) && Object.keys(value).length === 0);
}

/** An integer JSON number or decimal string as a bigint; undefined for anything else. */
function asInteger(value: Actual): bigint | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : undefined;
  if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value)) return BigInt(value.trim());
  return undefined;
}

function deepEqual(a: Actual, b: Actual): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

function scalarEqual(expected: JsonValue, actual: Actual): boolean {
  if (isDefault(expected) && isDefault(actual)) return true;
  const e = asInteger(expected);
  const a = asInteger(actual);
  if (e !== undefined && a !== undefined) return e === a;
  return deepEqual(expected, actual);
}

function show(value: Actual): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}

/** Undefined when `actual` matches `expected` under the README's rules, else what differed. */
export function match(expected: JsonValue, actual: Actual, where = "response"): string | undefined {
  if (isObject(expected) && onlyKey(expected, "$present")) {
    return !isDefault(actual) && !isEmptyContainer(actual) ? undefined : `${where}: expected a value, got ${show(actual)}`;
  }
  if (isObject(expected) && onlyKey(expected, "$absent")) {
    return actual === undefined || actual === null ? undefined : `${where}: expected absent, got ${show(actual)}`;
  }
  if (isObject(expected)) {
    if (actual !== undefined && actual !== null && !isObject(actual)) {
      return `${where}: expected an object, got ${show(actual)}`;
    }
    const object: JsonObject = isObject(actual) ? actual : {};
    for (const [key, value] of Object.entries(expected)) {
      const problem = match(value, object[key], `${where}.${key}`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (Array.isArray(expected)) {
    const list: JsonValue[] = Array.isArray(actual) ? actual : [];
    if (list.length !== expected.length) {
      return `${where}: expected ${expected.length} items, got ${list.length}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const problem = match(expected[i] as JsonValue, list[i], `${where}[${i}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  return scalarEqual(expected, actual) ? undefined : `${where}: expected ${show(expected)}, got ${show(actual)}`;
}
