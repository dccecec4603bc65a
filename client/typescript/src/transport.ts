/**
 * The channel: client and call options, the channel's service config (round_robin over every
 * address, reads retried on UNAVAILABLE), and `Transport`, the one grpc-js channel and default
 * deadline every handle of a client shares, which runs a unary RPC as a promise and opens a
 * server stream (Watch).
 */

import * as grpc from "@grpc/grpc-js";

import * as pb from "./gen/contextstore/v1/context_store";
import { ContextStoreError, Status, toContextStoreError } from "./errors";
import {
  methodDefinition,
  retriedMethods,
  SERVICE_NAME,
  type MethodName,
  type RequestOf,
  type ResponseOf,
} from "./methods";
import { channelSecurity, type TlsOptions } from "./security";
import { channelTarget } from "./target";

export const DEFAULT_TARGET = "127.0.0.1:50051";
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The server's default limit: 16 MiB of content plus 1 MiB of headroom. */
export const DEFAULT_MAX_MESSAGE_BYTES = 17 * 1024 * 1024;

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

/** One channel and its default deadline, shared by every handle of a client. */
export class Transport {
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

  /**
   * Opens a server-streaming RPC (Watch). It gets no deadline: a stream lives as long as its
   * caller wants, and ends when the caller cancels it (`cancel()`; watch.ts ties that to the
   * caller's `signal` and to the end of iteration). The stream always has an `error` listener,
   * so that the CANCELLED status a `cancel()` produces once nobody reads the stream any more is
   * not thrown as an unhandled `error` event.
   */
  serverStream<M extends MethodName>(
    method: M,
    request: RequestOf<M>,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): grpc.ClientReadableStream<ResponseOf<M>> {
    const definition = methodDefinition(method);
    const call = this.stub.makeServerStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      request,
      metadata,
      {},
    );
    call.on("error", () => {}); // readers see the error through iteration; see above
    return call;
  }
}
