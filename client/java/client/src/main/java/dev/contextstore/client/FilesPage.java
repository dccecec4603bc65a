package dev.contextstore.client;

import java.util.List;
import java.util.Objects;

/**
 * One page of {@link ContextStoreClient#listFilesPage(ListFilesOptions, String)}: files in path
 * order, and the token of the next page.
 *
 * @param files this page's files, in path order (possibly none, even when it is not the last)
 * @param nextPageToken pass it back as the page token, with the same options, for the next page;
 *     empty on the last page
 * @param revision the namespace's revision this page was read at: {@link
 *     ContextStoreClient#watch(long, String) watch} from it to see every change after this page
 */
public record FilesPage(List<FileMetadata> files, String nextPageToken, long revision) {
  public FilesPage {
    files = List.copyOf(files);
    Objects.requireNonNull(nextPageToken, "nextPageToken");
  }

  /** Whether this is the last page (its {@link #nextPageToken()} is empty). */
  public boolean isLast() {
    return nextPageToken.isEmpty();
  }
}
