/**
 * ContextStoreError: every failed call, with its gRPC status code and the
 * google.rpc details the server attached (grpc-status-details-bin):
 * BadRequest field violations for INVALID_ARGUMENT, QuotaFailure subjects for
 * RESOURCE_EXHAUSTED. A failed compare-and-set (ABORTED with an ErrorInfo of
 * reason PRECONDITION_FAILED) is its subclass PreconditionFailedError; a Watch start revision the
 * server no longer retains (OUT_OF_RANGE with an ErrorInfo of reason REVISION_COMPACTED) is its
 * subclass RevisionCompactedError.
 */

import { Metadata, status as Status, type ServiceError } from "@grpc/grpc-js";

import { BadRequest, ErrorInfo, QuotaFailure } from "./gen/google/rpc/error_details";
import { Status as RpcStatus } from "./gen/google/rpc/status";

export { Status };

/** The name of a gRPC status code, e.g. `"INVALID_ARGUMENT"`. */
export type StatusName = keyof typeof Status;

/** A bad request field (from google.rpc.BadRequest) and why it was refused. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** An exceeded limit (from google.rpc.QuotaFailure) and why. */
export interface QuotaViolation {
  readonly subject: string;
  readonly description: string;
}

const DETAILS_KEY = "grpc-status-details-bin";
const TYPE_PREFIX = "type.googleapis.com/";
const BAD_REQUEST = "google.rpc.BadRequest";
const QUOTA_FAILURE = "google.rpc.QuotaFailure";
const ERROR_INFO = "google.rpc.ErrorInfo";

/** The ErrorInfo `domain` of the errors contextstore defines. */
export const ERROR_DOMAIN = "contextstore.dev";
/** The ErrorInfo `reason` of a failed compare-and-set (`ifVersion` / `ifSha256`). */
export const PRECONDITION_FAILED = "PRECONDITION_FAILED";
/** The ErrorInfo `reason` of a Watch start revision older than the history the server keeps. */
export const REVISION_COMPACTED = "REVISION_COMPACTED";

/** A google.rpc.ErrorInfo detail: why the call failed, as a stable reason and its facts. */
export interface ErrorDetail {
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The name of a numeric status code (`"UNKNOWN"` for one gRPC does not define). */
export function statusName(code: number): StatusName {
  const name = Status[code];
  return (typeof name === "string" ? name : "UNKNOWN") as StatusName;
}

/** A failed call. `code` is the gRPC status code; `message` says what went wrong. */
export class ContextStoreError extends Error {
  override readonly name: string = "ContextStoreError";
  /** The gRPC status code (`Status.NOT_FOUND`, ...). */
  readonly code: Status;
  /** The status message the server sent. */
  readonly details: string;
  /** INVALID_ARGUMENT: one entry per bad field (`path`, `files[3].path`, ...). */
  readonly fieldViolations: readonly FieldViolation[];
  /** RESOURCE_EXHAUSTED: one entry per exceeded limit (`session_bytes`, ...). */
  readonly quotaViolations: readonly QuotaViolation[];
  /** The trailers of the failed call. */
  readonly metadata: Metadata;

  constructor(
    code: Status,
    details: string,
    fieldViolations: readonly FieldViolation[] = [],
    quotaViolations: readonly QuotaViolation[] = [],
    metadata: Metadata = new Metadata(),
  ) {
    super(`${statusName(code)}: ${details}`);
    this.code = code;
    this.details = details;
    this.fieldViolations = fieldViolations;
    this.quotaViolations = quotaViolations;
    this.metadata = metadata;
  }

  /** The status code's name, e.g. `"NOT_FOUND"`. */
  get codeName(): StatusName {
    return statusName(this.code);
  }

  /** The fields named by the BadRequest detail. */
  get fields(): string[] {
    return this.fieldViolations.map((v) => v.field);
  }

  /** The limits named by the QuotaFailure detail. */
  get quotaSubjects(): string[] {
    return this.quotaViolations.map((v) => v.subject);
  }
}

function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    typeof (error as Partial<ServiceError>).code === "number" &&
    (error as Partial<ServiceError>).metadata instanceof Metadata
  );
}

/** Decodes the google.rpc.Status of a call's trailers, if it carries one. */
export function decodeStatusDetails(metadata: Metadata): {
  fieldViolations: FieldViolation[];
  quotaViolations: QuotaViolation[];
  errorInfos: ErrorDetail[];
} {
  const fieldViolations: FieldViolation[] = [];
  const quotaViolations: QuotaViolation[] = [];
  const errorInfos: ErrorDetail[] = [];
  for (const value of metadata.get(DETAILS_KEY)) {
    if (typeof value === "string") continue; // -bin keys always arrive as Buffers
    let status: RpcStatus;
    try {
      status = RpcStatus.decode(value);
    } catch {
      continue; // a malformed detail must not hide the status code itself
    }
    for (const any of status.details) {
      const type = any.typeUrl.startsWith(TYPE_PREFIX)
        ? any.typeUrl.slice(TYPE_PREFIX.length)
        : any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
      try {
        if (type === BAD_REQUEST) {
          for (const v of BadRequest.decode(any.value).fieldViolations) {
            fieldViolations.push({ field: v.field, description: v.description });
          }
        } else if (type === QUOTA_FAILURE) {
          for (const v of QuotaFailure.decode(any.value).violations) {
            quotaViolations.push({ subject: v.subject, description: v.description });
          }
        } else if (type === ERROR_INFO) {
          const info = ErrorInfo.decode(any.value);
          errorInfos.push({ reason: info.reason, domain: info.domain, metadata: { ...info.metadata } });
        }
      } catch {
        continue; // likewise for one malformed detail: the others still count
      }
    }
  }
  return { fieldViolations, quotaViolations, errorInfos };
}

/** Translates whatever a grpc-js call failed with into a ContextStoreError. */
export function toContextStoreError(error: unknown): ContextStoreError {
  if (error instanceof ContextStoreError) return error;
  if (isServiceError(error)) {
    const { fieldViolations, quotaViolations, errorInfos } = decodeStatusDetails(error.metadata);
    if (error.code === Status.ABORTED) {
      const failed = preconditionFailure(errorInfos);
      if (failed !== undefined) return new PreconditionFailedError(error.details, failed, error.metadata);
    }
    if (error.code === Status.OUT_OF_RANGE) {
      const compacted = revisionCompaction(errorInfos);
      if (compacted !== undefined) return new RevisionCompactedError(error.details, compacted, error.metadata);
    }
    return new ContextStoreError(
      error.code,
      error.details,
      fieldViolations,
      quotaViolations,
      error.metadata,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ContextStoreError(Status.UNKNOWN, message);
}

// -- compare-and-set failures ------------------------------------------------------------------

/** What a failed precondition reports: the file there now. */
export interface CurrentFile {
  /** The path whose precondition failed (in a batch, the item's path). */
  readonly path: string;
  /** The version of the file there now; `0n` when no file is there. */
  readonly currentVersion: bigint;
  /** The SHA-256 digest of the file there now (32 bytes); empty when no file is there. */
  readonly currentSha256: Buffer;
}

/**
 * A compare-and-set write (`ifVersion` / `ifSha256`) found another file there, or none: the call
 * changed nothing (a batch stored none of its files). Status ABORTED; `currentVersion` and
 * `currentSha256` say what is there now (`0n` and empty when nothing is). Re-read, then retry
 * with the new precondition or give up: the same call again fails the same way.
 */
export class PreconditionFailedError extends ContextStoreError implements CurrentFile {
  override readonly name: string = "PreconditionFailedError";
  readonly path: string;
  readonly currentVersion: bigint;
  readonly currentSha256: Buffer;

  constructor(details: string, current: CurrentFile, metadata: Metadata = new Metadata()) {
    super(Status.ABORTED, details, [], [], metadata);
    this.path = current.path;
    this.currentVersion = current.currentVersion;
    this.currentSha256 = current.currentSha256;
  }

  /** `currentSha256` as lowercase hex (`""` when no file is there). */
  get currentSha256Hex(): string {
    return this.currentSha256.toString("hex");
  }
}

const DECIMAL = /^-?\d+$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * The file a PRECONDITION_FAILED ErrorInfo of contextstore.dev describes, or `undefined` when
 * there is none or its metadata is malformed (the error then stays a plain ContextStoreError).
 */
export function preconditionFailure(errorInfos: readonly ErrorDetail[]): CurrentFile | undefined {
  const info = errorInfos.find((i) => i.reason === PRECONDITION_FAILED && i.domain === ERROR_DOMAIN);
  if (info === undefined) return undefined;
  const version = info.metadata["current_version"] ?? "0";
  const sha256 = info.metadata["current_sha256"] ?? "";
  if (!DECIMAL.test(version) || !HEX.test(sha256)) return undefined;
  return {
    path: info.metadata["path"] ?? "",
    currentVersion: BigInt(version),
    currentSha256: Buffer.from(sha256, "hex"),
  };
}

// -- compacted history (Watch) -----------------------------------------------------------------

/** What a compacted Watch start revision reports: the revisions the server can still serve. */
export interface RetainedRevisions {
  /** The oldest `startRevision` the server still serves for this namespace. */
  readonly oldestRevision: bigint;
  /** The namespace's revision when the call failed. */
  readonly currentRevision: bigint;
}

/**
 * Watch was asked to replay from a revision the server no longer retains (its history of the
 * namespace is bounded): status OUT_OF_RANGE. The client does not resume it, since a watch from a
 * later revision would silently skip changes: re-read what you need (`listFilesPage` gives the
 * `revision` its page was read at) and watch again from there. `oldestRevision` and
 * `currentRevision` say what the server still has.
 */
export class RevisionCompactedError extends ContextStoreError implements RetainedRevisions {
  override readonly name: string = "RevisionCompactedError";
  readonly oldestRevision: bigint;
  readonly currentRevision: bigint;

  constructor(details: string, retained: RetainedRevisions, metadata: Metadata = new Metadata()) {
    super(Status.OUT_OF_RANGE, details, [], [], metadata);
    this.oldestRevision = retained.oldestRevision;
    this.currentRevision = retained.currentRevision;
  }
}

/**
 * The revisions a REVISION_COMPACTED ErrorInfo of contextstore.dev names, or `undefined` when
 * there is none or its metadata is malformed (the error then stays a plain ContextStoreError,
 * as a malformed PRECONDITION_FAILED does).
 */
export function revisionCompaction(errorInfos: readonly ErrorDetail[]): RetainedRevisions | undefined {
  const info = errorInfos.find((i) => i.reason === REVISION_COMPACTED && i.domain === ERROR_DOMAIN);
  if (info === undefined) return undefined;
  const oldest = info.metadata["oldest_revision"] ?? "";
  const current = info.metadata["current_revision"] ?? "";
  if (!DECIMAL.test(oldest) || !DECIMAL.test(current)) return undefined;
  return { oldestRevision: BigInt(oldest), currentRevision: BigInt(current) };
}
