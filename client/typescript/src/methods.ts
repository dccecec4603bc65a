/**
 * The RPC table of contextstore.v1.ContextStoreService, derived from the generated service
 * definition: method names, their request and response types, their grpc-js definitions, and
 * which of them the channel retries (read from the contract's embedded descriptor set).
 */

import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";

import * as pb from "./gen/contextstore/v1/context_store";
import { DESCRIPTOR_SET_BASE64 } from "./gen/descriptor_set";

export const SERVICE_NAME = "contextstore.v1.ContextStoreService";

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
