/**
 * ContextStoreError: every failed call, with its gRPC status code and the
 * google.rpc details the server attached (grpc-status-details-bin):
 * BadRequest field violations for INVALID_ARGUMENT, QuotaFailure subjects for
 * RESOURCE_EXHAUSTED.
 */

import { Metadata, status as Status, type ServiceError } from "@grpc/grpc-js";

import { BadRequest, QuotaFailure } from "./gen/google/rpc/error_details";
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

/** The name of a numeric status code (`"UNKNOWN"` for one gRPC does not define). */
export function statusName(code: number): StatusName {
  const name = Status[code];
  return (typeof name === "string" ? name : "UNKNOWN") as StatusName;
}

/** A failed call. `code` is the gRPC status code; `message` says what went wrong. */
export class ContextStoreError extends Error {
  override readonly name = "ContextStoreError";
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
} {
  const fieldViolations: FieldViolation[] = [];
  const quotaViolations: QuotaViolation[] = [];
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
      if (type === BAD_REQUEST) {
        for (const v of BadRequest.decode(any.value).fieldViolations) {
          fieldViolations.push({ field: v.field, description: v.description });
        }
      } else if (type === QUOTA_FAILURE) {
        for (const v of QuotaFailure.decode(any.value).violations) {
          quotaViolations.push({ subject: v.subject, description: v.description });
        }
      }
    }
  }
  return { fieldViolations, quotaViolations };
}

/** Translates whatever a grpc-js call failed with into a ContextStoreError. */
export function toContextStoreError(error: unknown): ContextStoreError {
  if (error instanceof ContextStoreError) return error;
  if (isServiceError(error)) {
    const { fieldViolations, quotaViolations } = decodeStatusDetails(error.metadata);
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
