package dev.contextstore.client;

import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import java.util.List;
import java.util.Optional;

/**
 * A compare-and-set write ({@link Precondition}) found another file there, or none: the call
 * changed nothing (a batch stored none of its files). Its code is ABORTED; {@link
 * #currentVersion()} and {@link #currentSha256()} say what is there now ({@code 0} and empty when
 * no file is). Re-read, then retry with the new precondition or give up: the same call again
 * fails the same way.
 *
 * <p>Decoded from the {@code google.rpc.ErrorInfo} detail of reason {@value #REASON} and domain
 * {@value #DOMAIN}; a detail whose metadata does not parse leaves a plain {@link
 * ContextStoreException}.
 */
public final class PreconditionFailedException extends ContextStoreException {
  private static final long serialVersionUID = 1L;

  /** The {@code ErrorInfo} reason of a failed precondition. */
  public static final String REASON = "PRECONDITION_FAILED";

  /** The {@code ErrorInfo} domain of the errors contextstore defines. */
  public static final String DOMAIN = "contextstore.dev";

  private final String path;
  private final long currentVersion;
  private final byte[] currentSha256;

  public PreconditionFailedException(
      String description,
      String path,
      long currentVersion,
      byte[] currentSha256,
      Throwable cause) {
    super(Status.Code.ABORTED, description, List.of(), List.of(), cause);
    this.path = path;
    this.currentVersion = currentVersion;
    this.currentSha256 = currentSha256.clone();
  }

  /**
   * The exception an ErrorInfo describes, or empty when it is not a failed precondition of
   * contextstore or its metadata is malformed.
   */
  static Optional<PreconditionFailedException> from(
      ErrorInfo info, String description, Throwable cause) {
    if (!REASON.equals(info.getReason()) || !DOMAIN.equals(info.getDomain())) {
      return Optional.empty();
    }
    long version;
    byte[] sha256;
    try {
      version = Long.parseLong(info.getMetadataOrDefault("current_version", "0"));
      sha256 = Hex.decode(info.getMetadataOrDefault("current_sha256", ""));
    } catch (IllegalArgumentException malformed) { // NumberFormatException included
      return Optional.empty();
    }
    String path = info.getMetadataOrDefault("path", "");
    return Optional.of(new PreconditionFailedException(description, path, version, sha256, cause));
  }

  /** The path whose precondition failed (in a batch, the item's path). */
  public String path() {
    return path;
  }

  /** The version of the file there now; {@code 0} when no file is there. */
  public long currentVersion() {
    return currentVersion;
  }

  /** The SHA-256 digest of the file there now (32 bytes); empty when no file is there. */
  public byte[] currentSha256() {
    return currentSha256.clone();
  }

  /** {@link #currentSha256()} as lowercase hex; empty when no file is there. */
  public String currentSha256Hex() {
    return Hex.encode(currentSha256);
  }
}
