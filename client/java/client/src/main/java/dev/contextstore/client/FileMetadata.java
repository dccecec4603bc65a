package dev.contextstore.client;

import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One cached file's metadata, compared by value (the digest included).
 *
 * @param path the file's path
 * @param size content size in bytes
 * @param sha256 SHA-256 digest of the content (32 bytes)
 * @param mtime the modification time the caller gave, if any
 * @param cachedAt when the server stored this version
 * @param labels the file's labels
 * @param version grows every time the entry is written
 */
public record FileMetadata(
    String path,
    long size,
    byte[] sha256,
    Optional<Instant> mtime,
    Instant cachedAt,
    Map<String, String> labels,
    long version) {

  /** The digest as 64 lowercase hex digits. */
  public String sha256Hex() {
    StringBuilder hex = new StringBuilder(sha256.length * 2);
    for (byte b : sha256) {
      hex.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    }
    return hex.toString();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof FileMetadata m
        && path.equals(m.path)
        && size == m.size
        && Arrays.equals(sha256, m.sha256)
        && mtime.equals(m.mtime)
        && cachedAt.equals(m.cachedAt)
        && labels.equals(m.labels)
        && version == m.version;
  }

  @Override
  public int hashCode() {
    return Objects.hash(path, size, Arrays.hashCode(sha256), mtime, cachedAt, labels, version);
  }

  @Override
  public String toString() {
    return "FileMetadata[path=" + path + ", size=" + size + ", sha256=" + sha256Hex()
        + ", mtime=" + mtime + ", cachedAt=" + cachedAt + ", labels=" + labels
        + ", version=" + version + "]";
  }
}
