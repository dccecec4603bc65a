/**
 * contextstore TypeScript client: `ContextStoreClient` (global namespace),
 * `client.session(id)` handles, `ContextStoreError` (and `PreconditionFailedError`, a failed
 * compare-and-set, and `RevisionCompactedError`, a Watch start revision no longer retained),
 * `Precondition` (`ifVersion` / `ifSha256`), `WatchOptions` / `WatchResponse` / `WatchEvent`
 * (what `watch` takes and yields), and the generated messages as `pb` (ts-proto, int64 as
 * bigint); `channelTarget`, what grpc-js is
 * given for a target (a list of addresses becomes an `ipv4:`/`ipv6:` URI); `TlsOptions`, the
 * `tls` option's shape; `ListFilesOptions` / `FilesPage`, what `listFiles` and `listFilesPage` take
 * and give.
 */

export * from "./client";
export * from "./errors";
export type { Precondition } from "./conditions";
export type { FilesPage, ListFilesOptions, ListFilesPageOptions } from "./listing";
export { channelTarget } from "./target";
export { TOKEN_ENV, type TlsOptions } from "./security";
export * as pb from "./gen/contextstore/v1/context_store";
