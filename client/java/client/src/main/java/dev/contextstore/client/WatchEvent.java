package dev.contextstore.client;

import java.util.Arrays;
import java.util.Objects;

/**
 * One change to one entry, or to a whole namespace ({@link WatchEventKind#SESSION_CLEARED},
 * {@link WatchEventKind#SESSION_EXPIRED}), compared by value (the digest included).
 *
 * @param kind what changed
 * @param path the entry's path; empty for session events
 * @param sha256 {@link WatchEventKind#FILE_CACHED}: the stored content's SHA-256 digest (32
 *     bytes); empty otherwise
 * @param version {@link WatchEventKind#FILE_CACHED}: the stored file's version; 0 otherwise
 * @param analysisType {@link WatchEventKind#ANALYSIS_CACHED} and {@link
 *     WatchEventKind#ANALYSIS_REMOVED}: the analysis type; empty otherwise
 * @param reason {@link WatchEventKind#ANALYSIS_REMOVED}: why; {@link RemovalReason#UNSPECIFIED}
 *     otherwise
 */
public record WatchEvent(
    WatchEventKind kind,
    String path,
    byte[] sha256,
    long version,
    String analysisType,
    RemovalReason reason) {

  /** The digest as lowercase hex; empty when there is none. */
  public String sha256Hex() {
    return Hex.encode(sha256);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof WatchEvent e
        && kind == e.kind
        && path.equals(e.path)
        && Arrays.equals(sha256, e.sha256)
        && version == e.version
        && analysisType.equals(e.analysisType)
        && reason == e.reason;
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, path, Arrays.hashCode(sha256), version, analysisType, reason);
  }

  @Override
  public String toString() {
    return "WatchEvent[kind=" + kind + ", path=" + path + ", sha256=" + sha256Hex()
        + ", version=" + version + ", analysisType=" + analysisType + ", reason=" + reason + "]";
  }
}
