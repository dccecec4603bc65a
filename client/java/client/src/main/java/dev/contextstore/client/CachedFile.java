package dev.contextstore.client;

import java.util.Arrays;

/**
 * A cached file: its content and metadata, compared by value.
 *
 * @param content the file's bytes; empty when {@code unchanged}
 * @param metadata the file's metadata
 * @param unchanged the content is the one the read's known digest named, so it was not sent
 */
public record CachedFile(byte[] content, FileMetadata metadata, boolean unchanged) {
  /** A file read with its content. */
  public CachedFile(byte[] content, FileMetadata metadata) {
    this(content, metadata, false);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof CachedFile f
        && Arrays.equals(content, f.content)
        && metadata.equals(f.metadata)
        && unchanged == f.unchanged;
  }

  @Override
  public int hashCode() {
    return 31 * (31 * Arrays.hashCode(content) + metadata.hashCode()) + Boolean.hashCode(unchanged);
  }

  @Override
  public String toString() {
    return "CachedFile[content=" + content.length + " bytes, metadata=" + metadata
        + ", unchanged=" + unchanged + "]";
  }
}
