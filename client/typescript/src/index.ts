/**
 * contextstore TypeScript client: `ContextStoreClient` (global namespace),
 * `client.session(id)` handles, `ContextStoreError`, and the generated
 * messages as `pb` (ts-proto, int64 as bigint).
 */

export * from "./client";
export * from "./errors";
export * as pb from "./gen/contextstore/v1/context_store";
