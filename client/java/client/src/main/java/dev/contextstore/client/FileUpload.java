package dev.contextstore.client;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * One file of a batch upload.
 *
 * @param path the file's path
 * @param content the file's bytes
 * @param labels labels to store with it (may be empty)
 * @param mtime the modification time to record, or {@code null} for none
 */
public record FileUpload(
    String path, byte[] content, Map<String, String> labels, Instant mtime) {

  public FileUpload {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(content, "content");
    labels = Map.copyOf(labels);
  }

  /** A file without labels or modification time. */
  public static FileUpload of(String path, byte[] content) {
    return new FileUpload(path, content, Map.of(), null);
  }
}
