package dev.contextstore.client;

/** Why an analysis was removed ({@link WatchEventKind#ANALYSIS_REMOVED}). */
public enum RemovalReason {
  /** Its file was stored with content it was not computed from. */
  STALE,
  /** An invalidation of the file, the analysis or a prefix. */
  INVALIDATED,
  /** A byte or entry budget. */
  EVICTED,
  /** Every event but ANALYSIS_REMOVED, or a reason this client does not know. */
  UNSPECIFIED
}
