/**
 * The typed contextstore client: promises over the ts-proto grpc-js stubs.
 *
 * - `new ContextStoreClient(target)` addresses the global namespace;
 *   `client.session(id)` returns a handle bound to one session, sharing the channel.
 *   `target` may name several servers (target.ts); calls go round-robin over them.
 * - Every call has a deadline: `timeoutMs` of the client (10 s by default),
 *   overridable per call; an `AbortSignal` cancels a call.
 * - A read of one missing entry resolves to `undefined` instead of rejecting.
 * - Failures reject with a `ContextStoreError` (`code`, `fieldViolations`, `quotaSubjects`);
 *   a failed compare-and-set (`ifVersion` / `ifSha256`) with its subclass `PreconditionFailedError`.
 * - int64 fields are `bigint`; Timestamps are `{ seconds: bigint, nanos: number }`
 *   (exact to the nanosecond; see `timestampToDate` / `timestampFromDate`).
 */

import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";

import * as pb from "./gen/contextstore/v1/context_store";
import { DESCRIPTOR_SET_BASE64 } from "./gen/descriptor_set";
import { Timestamp } from "./gen/google/protobuf/timestamp";
import { knownDigest, knownDigests, preconditionFields, type Precondition } from "./conditions";
import { ContextStoreError, Status, toContextStoreError } from "./errors";
import { allFiles, listFilesRequest, type FilesPage, type ListFilesOptions, type ListFilesPageOptions } from "./listing";
import { channelSecurity, type TlsOptions } from "./security";
import { channelTarget } from "./target";

export const DEFAULT_TARGET = "127.0.0.1:50051";
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The server's default limit: 16 MiB of content plus 1 MiB of headroom. */
export const DEFAULT_MAX_MESSAGE_BYTES = 17 * 1024 * 1024;

const SERVICE_NAME = "contextstore.v1.ContextStoreService";

// -- the method table, derived from the generated service definition ----------

type Service = typeof pb.ContextStoreServiceService;
type StubName = keyof Service;

/** An RPC of contextstore.v1.ContextStoreService, by its proto name ("CacheFile", ...). */
export type MethodName = Capitalize<StubName>;
/** The request message type of an RPC. */
export type RequestOf<M extends MethodName> = Parameters<Service[Uncapitalize<M>]["requestSerialize"]>[0];
/** The response message type of an RPC. */
export type ResponseOf<M extends MethodName> = ReturnType<Service[Uncapitalize<M>]["responseDeserialize"]>;

interface UnaryDefinition<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  requestDeserialize(value: Buffer): Req;
  responseSerialize(value: Res): Buffer;
  responseDeserialize(value: Buffer): Res;
}

/** The generated grpc-js definition of one RPC (serializers included). */
export function methodDefinition<M extends MethodName>(
  method: M,
): UnaryDefinition<RequestOf<M>, ResponseOf<M>> {
  const key = (method.charAt(0).toLowerCase() + method.slice(1)) as StubName;
  const definition = pb.ContextStoreServiceService[key] as unknown as
    | UnaryDefinition<RequestOf<M>, ResponseOf<M>>
    | undefined;
  if (definition === undefined) throw new TypeError(`unknown RPC ${method}`);
  return definition;
}

/** Every RPC name, in the order of the service definition. */
export const METHOD_NAMES: readonly MethodName[] = Object.keys(pb.ContextStoreServiceService).map(
  (key) => (key.charAt(0).toUpperCase() + key.slice(1)) as MethodName,
);

let retried: readonly MethodName[] | undefined;

/**
 * The RPCs the contract marks `option idempotency_level = NO_SIDE_EFFECTS` (the reads), read
 * from its FileDescriptorSet (gen/descriptor_set.ts, written by protoc with the stubs): the
 * channel retries these, and only these, on UNAVAILABLE.
 */
export function retriedMethods(): readonly MethodName[] {
  if (retried === undefined) {
    const files = fromBinary(FileDescriptorSetSchema, Buffer.from(DESCRIPTOR_SET_BASE64, "base64"));
    const service = createFileRegistry(files).getService(SERVICE_NAME);
    if (service === undefined) throw new Error(`no ${SERVICE_NAME} in the embedded descriptor set`);
    const names = service.methods
      .filter((m) => m.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS)
      .map((m) => m.name);
    for (const name of names) {
      // Both come from the same protoc run (make proto); check-proto keeps them so.
      if (!(METHOD_NAMES as readonly string[]).includes(name)) throw new Error(`${name} has no generated stub`);
    }
    retried = Object.freeze(names as MethodName[]);
  }
  return retried;
}

// -- public types ---------------------------------------------------------------

export interface ClientOptions {
  /** Default deadline of every call, in milliseconds (10 s). */
  timeoutMs?: number;
  /** Largest message sent or received (17 MiB, the server's default limit). */
  maxMessageBytes?: number;
  /**
   * TLS: `ca` (PEM CA bundle file to trust; the system roots when absent), `cert` and `key`
   * (client certificate and key files, for mTLS: both or neither). Plaintext when absent.
   */
  tls?: TlsOptions;
  /**
   * Sent on every call as `authorization: Bearer <token>`. When absent, the environment variable
   * `CONTEXTSTORE_TOKEN` (so is `undefined`); empty: no token.
   */
  token?: string | undefined;
  /** Ready-made channel credentials, instead of `tls`; plaintext when both are absent. */
  credentials?: grpc.ChannelCredentials;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

export interface CallOptions {
  /** This call's deadline in milliseconds, instead of the client's default. */
  timeoutMs?: number;
  /** Cancels the call (it then rejects with CANCELLED). */
  signal?: AbortSignal;
  /** Extra request metadata. */
  metadata?: grpc.Metadata;
}

/** File content: bytes, or a string stored as UTF-8. */
export type Content = Uint8Array | string;

/** `ifVersion` / `ifSha256`: store only over the file they name (see `Precondition`). */
export interface CacheFileOptions extends CallOptions, Precondition {
  labels?: Record<string, string>;
  /** The file's modification time, stored and echoed back as given. */
  mtime?: Date | Timestamp;
}

/** One file of a batch upload; a failed precondition of any item stores none of them. */
export interface FileInput extends Precondition {
  path: string;
  content: Content;
  labels?: Record<string, string>;
  mtime?: Date | Timestamp;
}

/** `ifVersion` / `ifSha256`: store only if the file at the path is the one they name. */
export interface CacheAnalysisOptions extends CallOptions, Precondition {}

/** `ifVersion` / `ifSha256`: remove only the file they name. */
export interface InvalidateFileOptions extends CallOptions, Precondition {}

export interface GetFileOptions extends CallOptions {
  /** The digest of the content held (32 bytes): if still current, the content is not sent. */
  knownSha256?: Uint8Array | undefined;
}

export interface BatchGetFilesOptions extends CallOptions {
  /** By path, the digest of the content held: each path still current comes back unchanged. */
  knownSha256?: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>> | undefined;
}

/** A cached file: its content and metadata. */
export interface CachedFile {
  /** Empty when `unchanged`. */
  content: Buffer;
  metadata: pb.FileMetadata;
  /** The content is the one the read's `knownSha256` named, so it was not sent. */
  unchanged: boolean;
}

export type FileMetadata = pb.FileMetadata;
export type CachedAnalysis = pb.GetAnalysisResponse;
/** What a removal took away (invalidateFile, invalidatePrefix, clearSession). */
export type Removed = pb.InvalidateFileResponse;
/** Counters of one namespace (stats) or of the whole store (storeStats). */
export type Stats = pb.GetStatsResponse;
/** `backendProperties` holds the backend's own facts; `stripes` is deprecated (read `backendProperties.stripes`). */
export type ServerInfo = pb.GetServerInfoResponse;
export type Limits = pb.Limits;
export { Timestamp };

// -- conversions ----------------------------------------------------------------

function toBuffer(content: Content): Buffer {
  if (typeof content === "string") return Buffer.from(content, "utf8");
  if (Buffer.isBuffer(content)) return content;
  return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

/** A Date as a Timestamp (millisecond precision, as Date has). */
export function timestampFromDate(date: Date): Timestamp {
  const millis = date.getTime();
  const seconds = Math.floor(millis / 1000);
  return { seconds: BigInt(seconds), nanos: (millis - seconds * 1000) * 1_000_000 };
}

/** A Timestamp as a Date (truncated to milliseconds). */
export function timestampToDate(timestamp: Timestamp): Date {
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000));
}

function toTimestamp(value: Date | Timestamp | undefined): Timestamp | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? timestampFromDate(value) : value;
}

function cachedFile(content: Buffer, metadata: pb.FileMetadata | undefined, unchanged: boolean): CachedFile {
  return { content, metadata: metadata ?? pb.FileMetadata.create(), unchanged };
}

/** Calls spread over every address of the target (round_robin); reads retried on UNAVAILABLE. */
function serviceConfig(): string {
  return JSON.stringify({
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig: [
      {
        name: retriedMethods().map((method) => ({ service: SERVICE_NAME, method })),
        retryPolicy: {
          maxAttempts: 4,
          initialBackoff: "0.05s",
          maxBackoff: "1s",
          backoffMultiplier: 2,
          retryableStatusCodes: ["UNAVAILABLE"],
        },
      },
    ],
  });
}

// -- the channel ------------------------------------------------------------------

/** One channel and its default deadline, shared by every handle of a client. */
class Transport {
  readonly stub: pb.ContextStoreServiceClient;
  readonly timeoutMs: number;

  constructor(target: string, options: ClientOptions) {
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { credentials, interceptors } = channelSecurity(options);
    this.stub = new pb.ContextStoreServiceClient(channelTarget(target), credentials, {
      "grpc.service_config": serviceConfig(),
      "grpc.enable_retries": 1,
      "grpc.max_receive_message_length": maxMessageBytes,
      "grpc.max_send_message_length": maxMessageBytes,
      ...options.channelOptions,
      ...(interceptors.length > 0 ? { interceptors } : {}), // the token's header on plaintext
    });
  }

  unary<M extends MethodName>(
    method: M,
    request: RequestOf<M>,
    options: CallOptions = {},
  ): Promise<ResponseOf<M>> {
    const definition = methodDefinition(method);
    const deadline = Date.now() + (options.timeoutMs ?? this.timeoutMs);
    const signal = options.signal;
    return new Promise<ResponseOf<M>>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new ContextStoreError(Status.CANCELLED, "aborted before the call started"));
        return;
      }
      const onAbort = (): void => call.cancel();
      const call = this.stub.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        options.metadata ?? new grpc.Metadata(),
        { deadline },
        (error, response) => {
          signal?.removeEventListener("abort", onAbort);
          if (error) reject(toContextStoreError(error));
          else if (response === undefined) reject(new ContextStoreError(Status.INTERNAL, "no response"));
          else resolve(response);
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

// -- the handles --------------------------------------------------------------------

/**
 * A handle bound to one namespace (`sessionId`; `undefined` is the global
 * namespace). Obtain it from `ContextStoreClient.session()`; it shares the
 * client's channel, so closing the client closes every handle.
 */
export class ContextStoreSession {
  /** The bound session, or `undefined` for the global namespace. */
  readonly sessionId: string | undefined;
  protected readonly transport: Transport;

  protected constructor(transport: Transport, sessionId: string | undefined) {
    this.transport = transport;
    this.sessionId = sessionId === "" ? undefined : sessionId;
  }

  /** A handle bound to `sessionId` (`undefined` or `""`: the global namespace). */
  session(sessionId: string | undefined): ContextStoreSession {
    return new ContextStoreSession(this.transport, sessionId);
  }

  /**
   * Runs one RPC with a generated request message, as is (the handle's session
   * is not applied). Rejects with ContextStoreError, NOT_FOUND included.
   */
  call<M extends MethodName>(method: M, request: RequestOf<M>, options?: CallOptions): Promise<ResponseOf<M>> {
    return this.transport.unary(method, request, options);
  }

  /** Resolves NOT_FOUND to `undefined`. */
  private async read<M extends MethodName, T>(
    method: M,
    request: RequestOf<M>,
    options: CallOptions | undefined,
    parse: (response: ResponseOf<M>) => T,
  ): Promise<T | undefined> {
    try {
      return parse(await this.transport.unary(method, request, options));
    } catch (error) {
      if (error instanceof ContextStoreError && error.code === Status.NOT_FOUND) return undefined;
      throw error;
    }
  }

  // -- files ----------------------------------------------------------------------

  /**
   * Stores or replaces a file; a changed digest drops the path's analyses. With `ifVersion` /
   * `ifSha256`, only over the file they name (else `PreconditionFailedError`).
   */
  async cacheFile(path: string, content: Content, options: CacheFileOptions = {}): Promise<FileMetadata> {
    const request: pb.CacheFileRequest = {
      sessionId: this.sessionId,
      path,
      content: toBuffer(content),
      labels: { ...options.labels },
      mtime: toTimestamp(options.mtime),
      ...preconditionFields(options),
    };
    const response = await this.call("CacheFile", request, options);
    return response.metadata ?? pb.FileMetadata.create();
  }

  /**
   * A file's content and metadata, or `undefined` when it is not cached. With `knownSha256`
   * equal to the current digest: the metadata, `unchanged: true` and empty content.
   */
  getFile(path: string, options?: GetFileOptions): Promise<CachedFile | undefined> {
    const request = { sessionId: this.sessionId, path, knownSha256: knownDigest(options?.knownSha256) };
    return this.read("GetFile", request, options, (r) => cachedFile(r.content, r.metadata, r.unchanged));
  }

  /** A file's metadata, or `undefined` when it is not cached. */
  getMetadata(path: string, options?: CallOptions): Promise<FileMetadata | undefined> {
    return this.read("GetMetadata", { sessionId: this.sessionId, path }, options, (r) =>
      r.metadata ?? pb.FileMetadata.create(),
    );
  }

  /**
   * One result per path, in order, read as one snapshot; `undefined` for a miss. A path whose
   * `knownSha256` entry is its current digest comes back `unchanged`, without content.
   */
  async batchGetFiles(
    paths: readonly string[],
    options?: BatchGetFilesOptions,
  ): Promise<(CachedFile | undefined)[]> {
    const request = { sessionId: this.sessionId, paths: [...paths], knownSha256: knownDigests(options?.knownSha256) };
    const response = await this.call("BatchGetFiles", request, options);
    return response.files.map((f) => (f.found ? cachedFile(f.content, f.metadata, f.unchanged) : undefined));
  }

  /** Stores every file or none: one invalid item fails the whole call. */
  async batchCacheFiles(files: readonly FileInput[], options?: CallOptions): Promise<FileMetadata[]> {
    const uploads: pb.FileUpload[] = files.map((f) => ({
      path: f.path,
      content: toBuffer(f.content),
      labels: { ...f.labels },
      mtime: toTimestamp(f.mtime),
      ...preconditionFields(f),
    }));
    const response = await this.call("BatchCacheFiles", { sessionId: this.sessionId, files: uploads }, options);
    return response.metadata;
  }

  /**
   * Every file of this namespace whose path starts with `pathPrefix`, in path order: an async
   * iterable that fetches a page (`pageSize` files at most) when iteration reaches it, and stops
   * after the page with an empty `nextPageToken`. Each page is one snapshot; between pages the
   * namespace may change (a path is still listed at most once). `timeoutMs` and `signal` apply
   * to every page's call.
   */
  listFiles(options: ListFilesOptions = {}): AsyncGenerator<FileMetadata, void, undefined> {
    return allFiles((pageToken) => this.listFilesPage({ ...options, pageToken }));
  }

  /** One page of `listFiles`, for callers that keep the token: pass `nextPageToken` back as `pageToken`. */
  async listFilesPage(options: ListFilesPageOptions = {}): Promise<FilesPage> {
    const response = await this.call("ListFiles", listFilesRequest(this.sessionId, options), options);
    return { files: response.files, nextPageToken: response.nextPageToken };
  }

  // -- analyses -------------------------------------------------------------------

  /**
   * Stores an analysis result; resolves to when it was cached. With `ifVersion` / `ifSha256`,
   * only if the file at the path is the one they name (else `PreconditionFailedError`).
   */
  async cacheAnalysis(
    path: string,
    analysisType: string,
    result: Content,
    options?: CacheAnalysisOptions,
  ): Promise<Timestamp | undefined> {
    const request = {
      sessionId: this.sessionId,
      path,
      analysisType,
      result: toBuffer(result),
      ...preconditionFields(options),
    };
    return (await this.call("CacheAnalysis", request, options)).cachedAt;
  }

  /** An analysis result and when it was cached, or `undefined` when it is not cached. */
  getAnalysis(path: string, analysisType: string, options?: CallOptions): Promise<CachedAnalysis | undefined> {
    return this.read("GetAnalysis", { sessionId: this.sessionId, path, analysisType }, options, (r) => r);
  }

  // -- invalidation ---------------------------------------------------------------

  /**
   * Removes a path's file and analyses from this namespace. With `ifVersion` / `ifSha256`, only
   * the file they name (else `PreconditionFailedError`).
   */
  invalidateFile(path: string, options?: InvalidateFileOptions): Promise<Removed> {
    return this.call("InvalidateFile", { sessionId: this.sessionId, path, ...preconditionFields(options) }, options);
  }

  /** Removes one analysis type of a path, keeping the file; resolves to how many were removed (0 or 1). */
  async invalidateAnalysis(path: string, analysisType: string, options?: CallOptions): Promise<bigint> {
    const request = { sessionId: this.sessionId, path, analysisType };
    return (await this.call("InvalidateAnalysis", request, options)).analysesRemoved;
  }

  /** Removes every analysis type of a path, keeping the file; resolves to the count. */
  async invalidateAnalyses(path: string, options?: CallOptions): Promise<bigint> {
    const request = { sessionId: this.sessionId, path, analysisType: undefined };
    return (await this.call("InvalidateAnalysis", request, options)).analysesRemoved;
  }

  /**
   * Removes every file and analysis of this namespace whose path starts with `pathPrefix`,
   * atomically (an empty prefix is refused: `clearSession` removes a whole namespace).
   */
  invalidatePrefix(pathPrefix: string, options?: CallOptions): Promise<Removed> {
    return this.call("InvalidatePrefix", { sessionId: this.sessionId, pathPrefix }, options);
  }

  /** Removes everything of this namespace, atomically. */
  clearSession(options?: CallOptions): Promise<Removed> {
    return this.call("ClearSession", { sessionId: this.sessionId }, options);
  }

  // -- introspection --------------------------------------------------------------

  /** Counters of this handle's namespace (the global namespace on the client itself). */
  stats(options?: CallOptions): Promise<Stats> {
    return this.call("GetStats", { sessionId: this.sessionId }, options);
  }

  /** Counters of the whole store, every namespace together. */
  storeStats(options?: CallOptions): Promise<Stats> {
    return this.call("GetStoreStats", {}, options);
  }

  /** Version, backend, its properties (`backendProperties`) and every limit the server enforces. */
  serverInfo(options?: CallOptions): Promise<ServerInfo> {
    return this.call("GetServerInfo", {}, options);
  }
}

/**
 * A client over one channel, addressing the global namespace. Call `close()`
 * when done.
 */
export class ContextStoreClient extends ContextStoreSession {
  /**
   * `target` is one server (`"127.0.0.1:50051"`, `"localhost:50051"`), several
   * (`"127.0.0.1:50051,127.0.0.1:50052"`, `"[::1]:50051,[::1]:50052"`: IP addresses with
   * their ports, one family), or any URI grpc-js resolves (`"dns:///name:50051"`, whose every
   * address is used, `"unix:///run/cs.sock"`). Calls are spread over every address
   * (round_robin). A list naming a host, an address without a port or two families throws a
   * TypeError: a host name with several addresses is one `dns:///` target.
   */
  constructor(target: string = DEFAULT_TARGET, options: ClientOptions = {}) {
    super(new Transport(target, options), undefined);
  }

  /** The underlying generated grpc-js client. */
  get stub(): pb.ContextStoreServiceClient {
    return this.transport.stub;
  }

  /** Resolves once the channel is connected, or rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number = this.transport.timeoutMs): Promise<void> {
    return new Promise((resolve, reject) => {
      this.transport.stub.waitForReady(Date.now() + timeoutMs, (error) => {
        if (error) reject(new ContextStoreError(Status.UNAVAILABLE, error.message));
        else resolve();
      });
    });
  }

  /** Closes the channel (and so every session handle of this client). */
  close(): void {
    this.transport.stub.close();
  }
}
