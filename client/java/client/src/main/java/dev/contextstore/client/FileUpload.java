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
 * @param precondition store only over the file it names ({@code null}: {@link
 *     Precondition#none()}); one failed precondition stores none of the batch
 */
public record FileUpload(
    String path,
    byte[] content,
    Map<String, String> labels,
    Instant mtime,
    Precondition precondition) {

  public FileUpload {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(content, "content");
    labels = Map.copyOf(labels);
    precondition = precondition == null ? Precondition.none() : precondition;
  }

  /** A file without a precondition. */
  public FileUpload(String path, byte[] content, Map<String, String> labels, Instant mtime) {
    this(path, content, labels, mtime, Precondition.none());
  }

  /** A file without labels, modification time or precondition. */
  public static FileUpload of(String path, byte[] content) {
    return new FileUpload(path, content, Map.of(), null);
  }

  /** This file with {@code precondition} instead of its own. */
  public FileUpload withPrecondition(Precondition precondition) {
    return new FileUpload(path, content, labels, mtime, precondition);
  }
}
