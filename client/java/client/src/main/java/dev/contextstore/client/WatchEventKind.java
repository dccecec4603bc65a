package dev.contextstore.client;

/** What a {@link WatchEvent} changed: the contract's {@code WatchEventKind}, without its prefix. */
public enum WatchEventKind {
  /** A file was stored or replaced. */
  FILE_CACHED,
  /** A file was removed by an invalidation of it or of a prefix. */
  FILE_INVALIDATED,
  /** A file was evicted by a byte or entry budget. */
  FILE_EVICTED,
  /** An analysis was stored or replaced. */
  ANALYSIS_CACHED,
  /** An analysis was removed; {@link WatchEvent#reason()} says why. */
  ANALYSIS_REMOVED,
  /** The whole namespace was cleared. */
  SESSION_CLEARED,
  /** The session expired after its idle time to live; everything in it is gone. */
  SESSION_EXPIRED,
  /** Unset, or a kind a newer server sends that this client does not know. */
  UNSPECIFIED
}
