/**
 * The TypeScript conformance runner: executes tests/conformance/cases.json
 * through the client package (ContextStoreClient.call with the ts-proto
 * messages), one JSON line per case.
 *
 * Usage: node dist/conformance.js --target HOST:PORT --cases PATH
 * (see tests/conformance/README.md). Exits 0 when every case passed, 1 when
 * one failed, 2 on a usage error. A case whose setup (the ClearSession of its
 * sessions) fails is reported with "step": -1.
 */

import { readFileSync } from "node:fs";

import { ContextStoreClient, METHOD_NAMES, methodDefinition, type MethodName } from "./client";
import { ContextStoreError } from "./errors";
import { expand, match } from "./matcher";
import { binaryToJson, jsonToBinary, service, type JsonValue } from "./protojson";

const DEADLINE_MS = 10_000;
const SERVICE_NAME = "contextstore.v1.ContextStoreService";

interface Expect {
  code: string;
  response?: JsonValue;
  field_violations?: string[];
  quota_subjects?: string[];
}

interface Step {
  rpc: string;
  request?: JsonValue;
  expect: Expect;
}

interface Case {
  name: string;
  sessions?: string[];
  steps: Step[];
}

type Result =
  | { case: string; ok: true }
  | { case: string; ok: false; step: number; error: string };

// -- running ---------------------------------------------------------------------------------

function sameSet(expected: readonly string[], got: readonly string[]): boolean {
  const a = new Set(expected);
  const b = new Set(got);
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function sorted(values: readonly string[]): string {
  return JSON.stringify([...new Set(values)].sort());
}

function isMethodName(rpc: string): rpc is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(rpc);
}

async function runStep(client: ContextStoreClient, step: Step): Promise<string | undefined> {
  const { rpc, expect } = step;
  if (!isMethodName(rpc)) return `unknown rpc ${JSON.stringify(rpc)}`;
  const descriptor = service(SERVICE_NAME).methods.find((m) => m.name === rpc);
  if (descriptor === undefined) return `rpc ${rpc} is not in the descriptor set`;
  const definition = methodDefinition(rpc);

  let request;
  try {
    const bytes = jsonToBinary(descriptor.input, expand(step.request ?? {}));
    request = definition.requestDeserialize(Buffer.from(bytes));
  } catch (error) {
    return `${rpc}: bad request in the case file: ${error instanceof Error ? error.message : String(error)}`;
  }

  let response;
  try {
    response = await client.call(rpc, request, { timeoutMs: DEADLINE_MS });
  } catch (error) {
    if (!(error instanceof ContextStoreError)) throw error;
    if (error.codeName !== expect.code) {
      return `${rpc}: expected ${expect.code}, got ${error.codeName}: ${error.details}`;
    }
    const checks: [keyof Expect & string, string[]][] = [
      ["field_violations", error.fields],
      ["quota_subjects", error.quotaSubjects],
    ];
    for (const [key, got] of checks) {
      const wanted = expect[key] as string[] | undefined;
      if (wanted !== undefined && !sameSet(wanted, got)) {
        return `${key}: expected ${sorted(wanted)}, got ${sorted(got)}`;
      }
    }
    return undefined;
  }
  if (expect.code !== "OK") return `${rpc}: expected ${expect.code}, got OK`;
  const printed = binaryToJson(descriptor.output, definition.responseSerialize(response));
  return match(expand(expect.response ?? {}), printed);
}

async function runCase(client: ContextStoreClient, testCase: Case): Promise<Result> {
  for (const session of testCase.sessions ?? []) {
    try {
      // "" is the global namespace: a request without session_id.
      await client.session(session === "" ? undefined : session).clearSession({ timeoutMs: DEADLINE_MS });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { case: testCase.name, ok: false, step: -1, error: `setup: ClearSession(${JSON.stringify(session)}): ${message}` };
    }
  }
  for (const [index, step] of testCase.steps.entries()) {
    let problem: string | undefined;
    try {
      problem = await runStep(client, step);
    } catch (error) {
      problem = `${step.rpc}: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (problem !== undefined) return { case: testCase.name, ok: false, step: index, error: problem };
  }
  return { case: testCase.name, ok: true };
}

function parseArgs(argv: readonly string[]): { target: string; cases: string } {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const eq = arg.indexOf("=");
    const [key, value] = eq >= 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, argv[++i]];
    if ((key !== "--target" && key !== "--cases") || value === undefined) {
      throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
    }
    values[key.slice(2)] = value;
  }
  if (values.target === undefined || values.cases === undefined) throw new Error("--target and --cases are required");
  return { target: values.target, cases: values.cases };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.stderr.write("usage: conformance --target HOST:PORT --cases PATH\n");
    return 2;
  }
  const file = JSON.parse(readFileSync(args.cases, "utf8")) as { cases: Case[] };
  const client = new ContextStoreClient(args.target, { timeoutMs: DEADLINE_MS });
  let failed = 0;
  try {
    for (const testCase of file.cases) {
      const result = await runCase(client, testCase);
      if (!result.ok) failed++;
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  } finally {
    client.close();
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
