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
 * - `watch()` streams a namespace's changes as an async generator, resuming on its own when the
 *   server drops the stream; a start revision older than the server's history rejects with
 *   `RevisionCompactedError`. Writes and `listFilesPage` give the revisions to watch from.
 * - int64 fields are `bigint`; Timestamps are `{ seconds: bigint, nanos: number }`
 *   (exact to the nanosecond; see `timestampToDate` / `timestampFromDate`).
 */

import * as pb from "./gen/contextstore/v1/context_store";
import type { Timestamp } from "./gen/google/protobuf/timestamp";
import { knownDigest, knownDigests, preconditionFields } from "./conditions";
import { cachedFile, toBuffer, toTimestamp } from "./convert";
import { ContextStoreError, Status } from "./errors";
import { allFiles, listFilesRequest, type FilesPage, type ListFilesOptions, type ListFilesPageOptions } from "./listing";
import type { MethodName, RequestOf, ResponseOf } from "./methods";
import { DEFAULT_TARGET, Transport, type CallOptions, type ClientOptions } from "./transport";
import { Resume, resumingWatch, WATCH_RESUME, watchRequest, type WatchOptions, type WatchResponse } from "./watch";
import type {
  BatchGetFilesOptions,
  CacheAnalysisOptions,
  CachedAnalysis,
  CachedFile,
  CacheFileOptions,
  Content,
  FileInput,
  FileMetadata,
  GetFileOptions,
  InvalidateFileOptions,
  Removed,
  ServerInfo,
  Stats,
  StoreStats,
} from "./types";

// -- re-exports: the public API this module has always given ---------------------

export { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_TARGET, DEFAULT_TIMEOUT_MS } from "./transport";
export type { CallOptions, ClientOptions } from "./transport";
export { METHOD_NAMES, methodDefinition, retriedMethods } from "./methods";
export type { MethodName, RequestOf, ResponseOf } from "./methods";
export type {
  BatchGetFilesOptions,
  CacheAnalysisOptions,
  CachedAnalysis,
  CachedFile,
  CacheFileOptions,
  Content,
  FileInput,
  FileMetadata,
  GetFileOptions,
  InvalidateFileOptions,
  Limits,
  Removed,
  ServerInfo,
  Stats,
  StoreStats,
} from "./types";
export type { RemovalReason, WatchEvent, WatchEventKind, WatchOptions, WatchResponse } from "./watch";
export { timestampFromDate, timestampToDate } from "./convert";
export { Timestamp } from "./gen/google/protobuf/timestamp";

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
    return { files: response.files, nextPageToken: response.nextPageToken, revision: response.revision };
  }

  // -- watching -------------------------------------------------------------------

  /**
   * The changes of this namespace after `startRevision` (absent or 0: from now), only those under
   * `pathPrefix` (session events always), as an async generator of responses: each the events of
   * one revision, in revision order, or a progress response (the first one, then heartbeats while
   * nothing changes) saying which revision the watch is up to date with. When the server drops
   * the stream (UNAVAILABLE), it reopens it from the last revision received, with no gap and no
   * duplicate (see `Resume` in watch.ts for the schedule), and throws the last UNAVAILABLE error
   * only once `resumeTimeoutMs` (30 s by default) has passed since the first failure with nothing
   * received since. A start revision the server no longer retains throws
   * `RevisionCompactedError`: re-read, then watch again. The call has no deadline: `break` /
   * `return()` (or aborting `signal`, which throws CANCELLED) ends it. Nothing is sent before
   * iteration starts; a non-integer `startRevision` or a `resumeTimeoutMs` that is not a number
   * throws a TypeError.
   */
  watch(options: WatchOptions = {}): AsyncGenerator<WatchResponse, void, undefined> {
    const request = watchRequest(this.sessionId, options);
    const open = (startRevision: bigint) =>
      this.transport.serverStream("Watch", { ...request, startRevision }, options.metadata?.clone());
    const resume = new Resume(options.resumeTimeoutMs ?? WATCH_RESUME.resumeTimeoutMs);
    return resumingWatch(open, request.startRevision, options.signal, resume);
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

  /** Counters of the whole store, every namespace together, and `heldBytes` (see `StoreStats`). */
  storeStats(options?: CallOptions): Promise<StoreStats> {
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
