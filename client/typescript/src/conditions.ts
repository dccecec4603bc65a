/**
 * Conditional writes and reads, as request fields: a `Precondition` (compare-and-set writes:
 * cacheFile, batch items, cacheAnalysis, invalidateFile) and the known digests of conditional
 * reads (getFile, batchGetFiles). See the contract's "Precondition failures" and
 * `PreconditionFailedError`.
 */

/**
 * A compare-and-set condition on the file at the path. Absent (or `undefined`) fields set no
 * condition; both given, both must hold. When one does not, the call changes nothing and
 * rejects with `PreconditionFailedError`.
 */
export interface Precondition {
  /**
   * The version the file there must have now (`metadata.version`); `0` (or `0n`): only if no
   * file is there.
   */
  ifVersion?: bigint | number | undefined;
  /** The SHA-256 digest (32 bytes) the file there must have now (`metadata.sha256`). */
  ifSha256?: Uint8Array | undefined;
}

/** The precondition fields of a request: each present only when the condition is given. */
export interface PreconditionFields {
  ifVersion?: bigint | undefined;
  ifSha256?: Buffer | undefined;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function int64(value: bigint | number, name: string): bigint {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${value}`);
  }
  return BigInt(value);
}

/**
 * The request fields of a precondition: `ifVersion: 0` is sent as a present zero ("only if no
 * file is there"); an absent condition is not sent at all.
 */
export function preconditionFields(precondition: Precondition | undefined): PreconditionFields {
  const fields: PreconditionFields = {};
  if (precondition?.ifVersion !== undefined) fields.ifVersion = int64(precondition.ifVersion, "ifVersion");
  if (precondition?.ifSha256 !== undefined) fields.ifSha256 = asBuffer(precondition.ifSha256);
  return fields;
}

/** The digest a conditional read sends, or `undefined` (not sent). */
export function knownDigest(knownSha256: Uint8Array | undefined): Buffer | undefined {
  return knownSha256 === undefined ? undefined : asBuffer(knownSha256);
}

/** By path, the digests a conditional batch read sends (a Map or a plain object). */
export function knownDigests(
  knownSha256: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>> | undefined,
): Record<string, Buffer> {
  const digests: Record<string, Buffer> = Object.create(null) as Record<string, Buffer>; // any path, "__proto__" too
  if (knownSha256 === undefined) return digests;
  const entries = knownSha256 instanceof Map ? knownSha256.entries() : Object.entries(knownSha256);
  for (const [path, digest] of entries as Iterable<[string, Uint8Array]>) digests[path] = asBuffer(digest);
  return digests;
}
