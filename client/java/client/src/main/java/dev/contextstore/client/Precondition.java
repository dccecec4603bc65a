package dev.contextstore.client;

import com.google.protobuf.ByteString;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * A compare-and-set condition on the file at a path, for {@code cacheFile}, a batch's {@link
 * FileUpload}, {@code cacheAnalysis} and {@code invalidateFile}: the version the file there must
 * have now ({@code 0}: no file may be there), its content digest, both (both must hold) or
 * neither ({@link #none()}). When it does not hold, the call changes nothing and throws {@link
 * PreconditionFailedException}.
 *
 * <pre>{@code
 * client.cacheFile("a.py", content, Precondition.ifAbsent());           // create only
 * client.cacheFile("a.py", edited, Precondition.matching(meta));        // only over what was read
 * client.invalidateFile("a.py", Precondition.ifSha256(meta.sha256()));  // only that content
 * }</pre>
 */
public final class Precondition {
  private static final Precondition NONE = new Precondition(null, null);

  private final Long version; // null: no condition on the version
  private final byte[] sha256; // null: no condition on the digest

  private Precondition(Long version, byte[] sha256) {
    this.version = version;
    this.sha256 = sha256;
  }

  /** No condition: the call stores or removes whatever is there. */
  public static Precondition none() {
    return NONE;
  }

  /** Only if the file there has this version ({@link FileMetadata#version()}); 0: no file. */
  public static Precondition ifVersion(long version) {
    return new Precondition(version, null);
  }

  /** Only if no file is there: {@code ifVersion(0)}. */
  public static Precondition ifAbsent() {
    return ifVersion(0);
  }

  /** Only if the file there has this content digest (32 bytes; the server checks the size). */
  public static Precondition ifSha256(byte[] sha256) {
    return new Precondition(null, Objects.requireNonNull(sha256, "sha256").clone());
  }

  /** Only if the file there is still the one {@code metadata} describes: its version and digest. */
  public static Precondition matching(FileMetadata metadata) {
    return ifVersion(metadata.version()).andIfSha256(metadata.sha256());
  }

  /** This condition and a version (replacing any version it had). */
  public Precondition andIfVersion(long version) {
    return new Precondition(version, sha256);
  }

  /** This condition and a digest (replacing any digest it had). */
  public Precondition andIfSha256(byte[] sha256) {
    return new Precondition(version, Objects.requireNonNull(sha256, "sha256").clone());
  }

  /** The version the file must have, if that is a condition. */
  public OptionalLong version() {
    return version == null ? OptionalLong.empty() : OptionalLong.of(version);
  }

  /** The digest the file must have, if that is a condition (a copy). */
  public Optional<byte[]> sha256() {
    return sha256 == null ? Optional.empty() : Optional.of(sha256.clone());
  }

  /** Whether this sets no condition. */
  public boolean isNone() {
    return version == null && sha256 == null;
  }

  /**
   * Sets the request's {@code if_version} and {@code if_sha256}, each only when it is a condition
   * (so that {@code ifVersion(0)} is sent as a present zero, and no condition sends nothing).
   */
  static void apply(Precondition precondition, LongConsumer ifVersion, Consumer<ByteString> ifSha256) {
    if (precondition == null) {
      return;
    }
    if (precondition.version != null) {
      ifVersion.accept(precondition.version);
    }
    if (precondition.sha256 != null) {
      ifSha256.accept(ByteString.copyFrom(precondition.sha256));
    }
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Precondition p
        && Objects.equals(version, p.version)
        && Arrays.equals(sha256, p.sha256);
  }

  @Override
  public int hashCode() {
    return 31 * Objects.hashCode(version) + Arrays.hashCode(sha256);
  }

  @Override
  public String toString() {
    if (isNone()) {
      return "Precondition[none]";
    }
    StringBuilder text = new StringBuilder("Precondition[");
    if (version != null) {
      text.append("ifVersion=").append(version);
    }
    if (sha256 != null) {
      text.append(version != null ? ", " : "").append("ifSha256=").append(Hex.encode(sha256));
    }
    return text.append(']').toString();
  }
}
