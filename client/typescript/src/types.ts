/**
 * The public shapes of the session handle's methods: what they take (content, per-call
 * options) and what they give (cached files, metadata, analyses, removals, stats).
 */

import type * as pb from "./gen/contextstore/v1/context_store";
import type { Timestamp } from "./gen/google/protobuf/timestamp";
import type { Precondition } from "./conditions";
import type { CallOptions } from "./transport";

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
/**
 * What a removal took away (invalidateFile, invalidatePrefix, clearSession): `filesRemoved`,
 * `analysesRemoved`, and `revision`, the namespace's revision after the call (unchanged when it
 * removed nothing), to `watch` from.
 */
export type Removed = pb.InvalidateFileResponse;
/** Counters of one namespace (stats). */
export type Stats = pb.GetStatsResponse;
/**
 * Counters of the whole store (storeStats): the same as `Stats`, plus `heldBytes`, the bytes the
 * store holds for its entries: `bytes` less what the memory backend saves by holding a content
 * once for many sessions (equal to `bytes` on Redis).
 */
export type StoreStats = pb.GetStoreStatsResponse;
/** `backendProperties` holds the backend's own facts; `stripes` is deprecated (read `backendProperties.stripes`). */
export type ServerInfo = pb.GetServerInfoResponse;
export type Limits = pb.Limits;
