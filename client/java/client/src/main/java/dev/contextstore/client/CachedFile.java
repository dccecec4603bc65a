package dev.contextstore.client;

import java.util.Arrays;

/**
 * A cached file: its content and metadata, compared by value.
 *
 * @param content the file's bytes
 * @param metadata the file's metadata
 */
public record CachedFile(byte[] content, FileMetadata metadata) {
  @Override
  public boolean equals(Object other) {
    return other instanceof CachedFile f
        && Arrays.equals(content, f.content)
        && metadata.equals(f.metadata);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(content) + metadata.hashCode();
  }

  @Override
  public String toString() {
    return "CachedFile[content=" + content.length + " bytes, metadata=" + metadata + "]";
  }
}
