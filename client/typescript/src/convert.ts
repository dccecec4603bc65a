/**
 * Conversions between the client's types and the generated messages: content to bytes,
 * Date to and from Timestamp, and a read's response fields to a `CachedFile`.
 */

import * as pb from "./gen/contextstore/v1/context_store";
import type { Timestamp } from "./gen/google/protobuf/timestamp";
import type { CachedFile, Content } from "./types";

export function toBuffer(content: Content): Buffer {
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

export function toTimestamp(value: Date | Timestamp | undefined): Timestamp | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? timestampFromDate(value) : value;
}

export function cachedFile(content: Buffer, metadata: pb.FileMetadata | undefined, unchanged: boolean): CachedFile {
  return { content, metadata: metadata ?? pb.FileMetadata.create(), unchanged };
}
