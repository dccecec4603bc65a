package dev.contextstore.client;

import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import java.util.List;
import java.util.Optional;

/**
 * {@link ContextStoreClient#watch(long, String) Watch} was asked to replay from a revision the
 * server no longer retains (it keeps a bounded history per namespace): code OUT_OF_RANGE. The
 * watch is not resumed, since watching from any later revision would silently skip changes:
 * re-read what you need ({@link ContextStoreClient#listFilesPage} gives the {@link
 * FilesPage#revision()} it was read at) and watch again from there. {@link #oldestRevision()} and
 * {@link #currentRevision()} say what the server still has.
 *
 * <p>Decoded from the {@code google.rpc.ErrorInfo} detail of reason {@value #REASON} and domain
 * {@value PreconditionFailedException#DOMAIN}; a detail whose metadata does not parse leaves a
 * plain {@link ContextStoreException}, as for {@link PreconditionFailedException}.
 */
public final class RevisionCompactedException extends ContextStoreException {
  private static final long serialVersionUID = 1L;

  /** The {@code ErrorInfo} reason of a start revision older than the retained history. */
  public static final String REASON = "REVISION_COMPACTED";

  private final long oldestRevision;
  private final long currentRevision;

  public RevisionCompactedException(
      String description, long oldestRevision, long currentRevision, Throwable cause) {
    super(Status.Code.OUT_OF_RANGE, description, List.of(), List.of(), cause);
    this.oldestRevision = oldestRevision;
    this.currentRevision = currentRevision;
  }

  /**
   * The exception an ErrorInfo describes, or empty when it is not a compacted revision of
   * contextstore or its metadata is malformed.
   */
  static Optional<RevisionCompactedException> from(
      ErrorInfo info, String description, Throwable cause) {
    if (!REASON.equals(info.getReason())
        || !PreconditionFailedException.DOMAIN.equals(info.getDomain())) {
      return Optional.empty();
    }
    long oldest;
    long current;
    try {
      oldest = Long.parseLong(info.getMetadataOrDefault("oldest_revision", ""));
      current = Long.parseLong(info.getMetadataOrDefault("current_revision", ""));
    } catch (NumberFormatException malformed) {
      return Optional.empty();
    }
    return Optional.of(new RevisionCompactedException(description, oldest, current, cause));
  }

  /** The oldest start revision the server still serves for this namespace. */
  public long oldestRevision() {
    return oldestRevision;
  }

  /** The namespace's revision when the call failed. */
  public long currentRevision() {
    return currentRevision;
  }
}
