/**
 * The TypeScript conformance runner: each step of tests/conformance through the
 * typed client (@contextstore/client), never the raw stubs.
 *
 * Usage: node build/conformance/runner.js --target HOST:PORT [--target ...] --cases PATH
 *   [--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--token TOKEN] [--identity NAME=TOKEN ...]
 * (see tests/conformance/README.md). A thin adapter: it maps each operation name
 * to the typed client's method and prints what came back, normalized, one JSON
 * line per case; the Python harness (matching.py) judges it. With several
 * --target, each is one client (a value such as "A,B" is one client balancing
 * over both) and step k of a case goes to client k mod n; the setup clears go to
 * the first. The --tls-* files are every client's TLS settings; --token is the
 * default clients' token (else CONTEXTSTORE_TOKEN). A step with "as": NAME runs on a
 * client sending NAME's --identity token instead (same TLS, same target choice),
 * made on first use and kept per (target, NAME). Exits 0 once every case is
 * printed, whatever the outcomes; 2 on a usage error.
 */

import { readFileSync } from "node:fs";
import { parseArgs as parseArgv } from "node:util";

import {
  ContextStoreClient,
  ContextStoreError,
  type CachedAnalysis,
  type ClientOptions,
  type CachedFile,
  type ContextStoreSession,
  type FileInput,
  type FileMetadata,
  type FilesPage,
  type Limits,
  type ListFilesOptions,
  type ListFilesPageOptions,
  type Precondition,
  PreconditionFailedError,
  type Removed,
  RevisionCompactedError,
  type ServerInfo,
  type Stats,
  type StoreStats,
  type Timestamp,
  type TlsOptions,
} from "@contextstore/client";

import { int64, RunnerError, type Args, type Json } from "./common";
import { watch } from "./watch";

const DEADLINE_MS = 10_000;

interface Step {
  op: string;
  /** The --identity whose token this step sends, instead of the default clients'. */
  as?: string;
  session?: string;
  args?: Args;
}

interface Case {
  name: string;
  sessions: string[];
  steps: Step[];
}

/** A read that found nothing (the client resolved to `undefined`). */
const MISS = Symbol("miss");

// -- arguments (README.md, "Operations") ----------------------------------------------------

function arg(args: Args, name: string): unknown {
  if (!(name in args)) throw new RunnerError(`missing argument ${JSON.stringify(name)}`);
  return args[name];
}

function str(args: Args, name: string): string {
  const value = arg(args, name);
  if (typeof value !== "string") throw new RunnerError(`argument ${name} is not a string`);
  return value;
}

function bytes(args: Args, name: string): Buffer {
  return Buffer.from(str(args, name), "base64");
}

function labels(args: Args): Record<string, string> | undefined {
  const value = args.labels;
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Object.values(value).some((v) => typeof v !== "string")) {
    throw new RunnerError("argument labels is not an object of strings");
  }
  return value as Record<string, string>;
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i;

/** An RFC 3339 time as a Timestamp, to the nanosecond (a Date would keep milliseconds only). */
function timestamp(text: string): Timestamp {
  const found = RFC3339.exec(text);
  const millis = found === null ? NaN : Date.parse(`${found[1]}${found[3]}`);
  if (found === null || Number.isNaN(millis)) throw new RunnerError(`not an RFC 3339 time: ${text}`);
  return { seconds: BigInt(millis / 1000), nanos: Number((found[2] ?? "").padEnd(9, "0")) };
}

function mtime(args: Args): Timestamp | undefined {
  const value = args.mtime;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new RunnerError("argument mtime is not a string");
  return timestamp(value);
}

/** An optional base64 argument (a digest), or `undefined` when absent. */
function optionalBytes(args: Args, name: string): Buffer | undefined {
  return args[name] === undefined || args[name] === null ? undefined : bytes(args, name);
}

/** An optional string argument, or `undefined` when absent. */
function optionalStr(args: Args, name: string): string | undefined {
  return args[name] === undefined || args[name] === null ? undefined : str(args, name);
}

/** An optional integer argument, or `undefined` when absent. */
function optionalInt(args: Args, name: string): number | undefined {
  const value = args[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new RunnerError(`argument ${name} is not an integer`);
  }
  return value;
}

/** `path_prefix`? and `page_size`? of list_files and list_files_page, each only if given. */
function listing(args: Args): ListFilesOptions {
  const options: ListFilesOptions = {};
  const pathPrefix = optionalStr(args, "path_prefix");
  const pageSize = optionalInt(args, "page_size");
  if (pathPrefix !== undefined) options.pathPrefix = pathPrefix;
  if (pageSize !== undefined) options.pageSize = pageSize;
  return options;
}

/** list_files_page: `path_prefix`?, `page_size`? and `page_token`? (absent: the first page). */
function pageListing(args: Args): ListFilesPageOptions {
  const options: ListFilesPageOptions = listing(args);
  const pageToken = optionalStr(args, "page_token");
  if (pageToken !== undefined) options.pageToken = pageToken;
  return options;
}

/** `if_version` (a number: 0 means "only if no file is there") and `if_sha256`, each only if given. */
function precondition(args: Args): Precondition {
  const condition: Precondition = {};
  const version = args.if_version;
  if (version !== undefined && version !== null) {
    if (typeof version !== "number" || !Number.isSafeInteger(version)) {
      throw new RunnerError("argument if_version is not an integer");
    }
    condition.ifVersion = BigInt(version);
  }
  const digest = optionalBytes(args, "if_sha256");
  if (digest !== undefined) condition.ifSha256 = digest;
  return condition;
}

/** `known_sha256` of batch_get_files: an object of path to base64 digest. */
function knownDigests(args: Args): Record<string, Buffer> | undefined {
  const value = args.known_sha256;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Object.values(value).some((v) => typeof v !== "string")) {
    throw new RunnerError("argument known_sha256 is not an object of strings");
  }
  const digests: Record<string, Buffer> = {};
  for (const [path, digest] of Object.entries(value as Record<string, string>)) {
    digests[path] = Buffer.from(digest, "base64");
  }
  return digests;
}

function upload(item: unknown): FileInput {
  if (typeof item !== "object" || item === null) throw new RunnerError("a file is not an object");
  const file = item as Args;
  const input: FileInput = { path: str(file, "path"), content: bytes(file, "content"), ...precondition(file) };
  const fileLabels = labels(file);
  const fileMtime = mtime(file);
  if (fileLabels !== undefined) input.labels = fileLabels;
  if (fileMtime !== undefined) input.mtime = fileMtime;
  return input;
}

function list(args: Args, name: string): unknown[] {
  const value = arg(args, name);
  if (!Array.isArray(value)) throw new RunnerError(`argument ${name} is not a list`);
  return value;
}

function strings(args: Args, name: string): string[] {
  const value = list(args, name);
  if (value.some((v) => typeof v !== "string")) throw new RunnerError(`argument ${name} is not a list of strings`);
  return value as string[];
}

// -- normalized results (README.md, "What a runner prints") ---------------------------------

function b64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

/** RFC 3339 in UTC with every nanosecond the Timestamp holds. */
function rfc3339(ts: Timestamp | undefined): string | null {
  if (ts === undefined) return null;
  const whole = new Date(Number(ts.seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${String(ts.nanos).padStart(9, "0")}Z`;
}

function metadata(m: FileMetadata): Json {
  return {
    path: m.path,
    size: String(m.size),
    sha256: b64(m.sha256),
    mtime: rfc3339(m.mtime),
    cached_at: rfc3339(m.cachedAt),
    labels: { ...m.labels },
    version: String(m.version),
  };
}

function file(f: CachedFile): Json {
  return { content: b64(f.content), metadata: metadata(f.metadata), unchanged: f.unchanged };
}

function analysis(a: CachedAnalysis): Json {
  return { result: b64(a.result), cached_at: rfc3339(a.cachedAt) };
}

function removed(r: Removed): Json {
  return { files: String(r.filesRemoved), analyses: String(r.analysesRemoved), revision: int64(r.revision) };
}

function page(p: FilesPage): Json {
  return { files: p.files.map(metadata), next_page_token: p.nextPageToken, revision: int64(p.revision) };
}

/** A namespace's stats carry no `heldBytes`: 0, as the other clients print. */
function stats(s: Stats | StoreStats): Json {
  return {
    files: String(s.files),
    analyses: String(s.analyses),
    bytes: String(s.bytes),
    sessions: String(s.sessions),
    hits: String(s.hits),
    misses: String(s.misses),
    evictions: String(s.evictions),
    expirations: String(s.expirations),
    held_bytes: "heldBytes" in s ? String(s.heldBytes) : "0",
  };
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Every field of the contract's Limits, in snake_case; durations (session_ttl, receive_timeout) in seconds. */
function limits(l: Limits): Json {
  const printed: Record<string, Json> = {};
  for (const [name, value] of Object.entries(l) as [string, Limits[keyof Limits]][]) {
    printed[snakeCase(name)] = typeof value === "bigint" ? String(value) : seconds(value);
  }
  return printed;
}

function seconds(d: Limits["sessionTtl"]): Json {
  return d === undefined ? null : Number(d.seconds) + d.nanos / 1e9;
}

function serverInfo(info: ServerInfo): Json {
  return {
    version: info.version,
    backend: info.backend,
    backend_properties: { ...info.backendProperties },
    limits: info.limits === undefined ? null : limits(info.limits),
  };
}

function orMiss<T>(value: T | undefined, normalize: (value: T) => Json): Json | typeof MISS {
  return value === undefined ? MISS : normalize(value);
}

// -- operations (README.md, "Operations") ---------------------------------------------------

/** `earlier`: the outcomes of the case's steps before this one (watch's `after_step` reads them). */
type Operation = (
  handle: ContextStoreSession,
  args: Args,
  earlier: readonly Json[],
) => Promise<Json | typeof MISS>;

const OPERATIONS: Readonly<Record<string, Operation>> = {
  cache_file: async (h, a) => {
    const options: { labels?: Record<string, string>; mtime?: Timestamp } & Precondition = precondition(a);
    const fileLabels = labels(a);
    const fileMtime = mtime(a);
    if (fileLabels !== undefined) options.labels = fileLabels;
    if (fileMtime !== undefined) options.mtime = fileMtime;
    return metadata(await h.cacheFile(str(a, "path"), bytes(a, "content"), options));
  },
  get_file: async (h, a) => {
    const known = optionalBytes(a, "known_sha256");
    return orMiss(await h.getFile(str(a, "path"), known === undefined ? {} : { knownSha256: known }), file);
  },
  get_metadata: async (h, a) => orMiss(await h.getMetadata(str(a, "path")), metadata),
  cache_analysis: async (h, a) => ({
    cached_at: rfc3339(
      await h.cacheAnalysis(str(a, "path"), str(a, "analysis_type"), bytes(a, "result"), precondition(a)),
    ),
  }),
  get_analysis: async (h, a) => orMiss(await h.getAnalysis(str(a, "path"), str(a, "analysis_type")), analysis),
  invalidate_file: async (h, a) => removed(await h.invalidateFile(str(a, "path"), precondition(a))),
  invalidate_analysis: async (h, a) => String(await h.invalidateAnalysis(str(a, "path"), str(a, "analysis_type"))),
  invalidate_analyses: async (h, a) => String(await h.invalidateAnalyses(str(a, "path"))),
  clear_session: async (h) => removed(await h.clearSession()),
  batch_get_files: async (h, a) => {
    const known = knownDigests(a);
    const files = await h.batchGetFiles(strings(a, "paths"), known === undefined ? {} : { knownSha256: known });
    return files.map((f) => (f === undefined ? null : file(f)));
  },
  batch_cache_files: async (h, a) => (await h.batchCacheFiles(list(a, "files").map(upload))).map(metadata),
  list_files: async (h, a) => {
    const files: Json[] = []; // every page, through the client's iterator
    for await (const m of h.listFiles(listing(a))) files.push(metadata(m));
    return files;
  },
  list_files_page: async (h, a) => page(await h.listFilesPage(pageListing(a))),
  invalidate_prefix: async (h, a) => removed(await h.invalidatePrefix(str(a, "path_prefix"))),
  stats: async (h) => stats(await h.stats()),
  store_stats: async (h) => stats(await h.storeStats()),
  server_info: async (h) => serverInfo(await h.serverInfo()),
  watch: (h, a, earlier) => watch(h, a, earlier, DEADLINE_MS),
};

// -- running --------------------------------------------------------------------------------

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function runStep(client: ContextStoreClient, step: Step, earlier: readonly Json[]): Promise<Json> {
  const operation = OPERATIONS[step.op];
  if (operation === undefined) return { runner_error: `unknown operation ${JSON.stringify(step.op)}` };
  const handle = client.session(step.session);
  let result;
  try {
    result = await operation(handle, step.args ?? {}, earlier);
  } catch (error) {
    if (error instanceof ContextStoreError) {
      const violations = [...error.fields, ...error.quotaSubjects];
      const failure: { [key: string]: Json } = { code: error.codeName, violations, message: error.details };
      if (error instanceof PreconditionFailedError) {
        failure.current_version = int64(error.currentVersion);
        failure.current_sha256 = b64(error.currentSha256);
      }
      if (error instanceof RevisionCompactedError) {
        failure.oldest_revision = int64(error.oldestRevision);
        failure.current_revision = int64(error.currentRevision);
      }
      return { error: failure };
    }
    return { runner_error: `${step.op}: ${message(error)}` };
  }
  return result === MISS ? { miss: true } : { result };
}

/**
 * The default clients, one per --target value, and the clients of the --identity tokens,
 * made on first use for the (target, name) a step needs.
 */
class Clients {
  private readonly named = new Map<string, ContextStoreClient>();

  private constructor(
    private readonly settings: Settings,
    readonly defaults: readonly [ContextStoreClient, ...ContextStoreClient[]],
  ) {}

  /** One default client per target; a target or TLS setting the client refuses throws. */
  static connect(settings: Settings): Clients {
    const clients: ContextStoreClient[] = [];
    try {
      for (const target of settings.targets) clients.push(connectOne(settings, target, settings.token));
    } catch (error) {
      for (const client of clients) client.close();
      throw error;
    }
    const [first, ...others] = clients;
    if (first === undefined) throw new Error("no --target");
    return new Clients(settings, [first, ...others]);
  }

  /** The client of step k: target k mod n, with the token of `as` when the step names one. */
  forStep(k: number, as: string | undefined): ContextStoreClient {
    const index = k % this.defaults.length;
    if (as === undefined) return this.defaults[index] ?? this.defaults[0];
    const token = this.settings.identities.get(as);
    if (token === undefined) throw new RunnerError(`unknown identity ${JSON.stringify(as)} (no --identity ${as}=TOKEN)`);
    const key = `${index}\u0000${as}`;
    let client = this.named.get(key);
    if (client === undefined) {
      client = connectOne(this.settings, this.settings.targets[index] ?? "", token);
      this.named.set(key, client);
    }
    return client;
  }

  close(): void {
    for (const client of [...this.defaults, ...this.named.values()]) client.close();
  }
}

function connectOne(settings: Settings, target: string, token: string | undefined): ContextStoreClient {
  const options: ClientOptions = { timeoutMs: DEADLINE_MS };
  if (settings.tls !== undefined) options.tls = settings.tls;
  if (token !== undefined) options.token = token;
  return new ContextStoreClient(target, options);
}

async function runCase(clients: Clients, testCase: Case): Promise<Json> {
  for (const session of testCase.sessions) {
    try {
      await clients.defaults[0].session(session).clearSession();
    } catch (error) {
      return { case: testCase.name, setup_error: `clearSession(${JSON.stringify(session)}): ${message(error)}` };
    }
  }
  const outcomes: Json[] = [];
  for (const [k, step] of testCase.steps.entries()) {
    let client;
    try {
      client = clients.forStep(k, step.as);
    } catch (error) {
      outcomes.push({ runner_error: message(error) });
      continue;
    }
    outcomes.push(await runStep(client, step, outcomes));
  }
  return { case: testCase.name, outcomes };
}

interface Settings {
  targets: string[];
  cases: string;
  /** Every client's TLS settings; plaintext when no --tls-* flag is given. */
  tls?: TlsOptions;
  /** The default clients' token; when absent, the client reads CONTEXTSTORE_TOKEN. */
  token?: string;
  /** --identity NAME=TOKEN: the tokens "as" steps send. */
  identities: Map<string, string>;
}

const USAGE =
  "usage: run-conformance --target HOST:PORT [--target ...] --cases PATH [--tls-ca FILE]" +
  " [--tls-cert FILE --tls-key FILE] [--token TOKEN] [--identity NAME=TOKEN ...]";

/** The flags, as `--name value` or `--name=value`. */
function parseArgs(argv: string[]): Settings {
  const { values } = parseArgv({
    args: argv,
    options: {
      target: { type: "string", multiple: true },
      cases: { type: "string" },
      "tls-ca": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      token: { type: "string" },
      identity: { type: "string", multiple: true },
    },
    strict: true,
  });
  if (values.target === undefined || values.cases === undefined) throw new Error("--target and --cases are required");
  const settings: Settings = { targets: values.target, cases: values.cases, identities: new Map() };
  const tls: TlsOptions = {};
  if (values["tls-ca"] !== undefined) tls.ca = values["tls-ca"];
  if (values["tls-cert"] !== undefined) tls.cert = values["tls-cert"];
  if (values["tls-key"] !== undefined) tls.key = values["tls-key"];
  if (Object.keys(tls).length > 0) settings.tls = tls;
  if (values.token !== undefined) settings.token = values.token;
  for (const identity of values.identity ?? []) {
    const equals = identity.indexOf("=");
    if (equals < 1) throw new Error(`--identity ${JSON.stringify(identity)} is not NAME=TOKEN`);
    settings.identities.set(identity.slice(0, equals), identity.slice(equals + 1));
  }
  return settings;
}

async function main(): Promise<number> {
  let args;
  let clients;
  try {
    args = parseArgs(process.argv.slice(2));
    clients = Clients.connect(args);
  } catch (error) {
    process.stderr.write(`${message(error)}\n${USAGE}\n`);
    return 2;
  }
  try {
    const { cases } = JSON.parse(readFileSync(args.cases, "utf8")) as { cases: Case[] };
    for (const testCase of cases) {
      process.stdout.write(`${JSON.stringify(await runCase(clients, testCase))}\n`);
    }
  } finally {
    clients.close();
  }
  return 0;
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
