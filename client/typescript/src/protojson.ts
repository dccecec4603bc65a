/**
 * Proto3 JSON for the generated ts-proto messages.
 *
 * ts-proto's own toJSON/fromJSON are not used: its field-level toJSON prints
 * Timestamps through Date (milliseconds only) and leaves out empty repeated
 * and map fields. Instead, a message goes through its binary encoding and
 * @bufbuild/protobuf's descriptor-driven JSON codec, built from the
 * FileDescriptorSet protoc wrote next to the generated code (gen/descriptor_set.ts):
 * proto field names, defaults of implicit-presence fields emitted, int64 as
 * decimal strings, bytes as base64, Timestamps as RFC 3339 with 0/3/6/9
 * fractional digits.
 */

import {
  createFileRegistry,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type DescService,
  type FileRegistry,
  type JsonValue,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

import { DESCRIPTOR_SET_BASE64 } from "./gen/descriptor_set";

export type { JsonValue };

let cached: FileRegistry | undefined;

/** Every message and service of context_store.proto and its imports. */
export function registry(): FileRegistry {
  cached ??= createFileRegistry(
    fromBinary(FileDescriptorSetSchema, Buffer.from(DESCRIPTOR_SET_BASE64, "base64")),
  );
  return cached;
}

/** A service's descriptor by its full name, e.g. "contextstore.v1.ContextStoreService". */
export function service(typeName: string): DescService {
  const found = registry().getService(typeName);
  if (found === undefined) throw new Error(`no service ${typeName} in the descriptor set`);
  return found;
}

/** Parses proto3 JSON (proto or JSON field names) into the message's binary encoding. */
export function jsonToBinary(schema: DescMessage, json: JsonValue): Uint8Array {
  return toBinary(schema, fromJson(schema, json));
}

/** Prints a binary-encoded message as proto3 JSON with proto field names and defaults emitted. */
export function binaryToJson(schema: DescMessage, bytes: Uint8Array): JsonValue {
  return toJson(schema, fromBinary(schema, bytes), {
    useProtoFieldName: true,
    alwaysEmitImplicit: true,
  });
}
