package dev.contextstore.client;

import dev.contextstore.v1.ListFilesRequest;
import dev.contextstore.v1.ListFilesResponse;
import java.util.Collections;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Function;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * Every file of a namespace under a prefix, in path order, from {@link
 * ContextStoreClient#listFiles(ListFilesOptions)}: AIP-158 paging behind an {@link Iterable}.
 *
 * <p>Each {@link #iterator()} (each for-each loop, each {@link #stream()}) lists afresh: it
 * fetches the first page when first asked for a file, each next page once the files of the
 * previous one are consumed, and stops after the page whose next page token is empty (a page with
 * no files that is not the last is followed through). Each page is one snapshot; between pages the
 * namespace may change, and a path is still listed at most once. A failed page throws {@link
 * ContextStoreException} from {@code hasNext()} / {@code next()}.
 */
public final class FileListing implements Iterable<FileMetadata> {
  private final Function<String, FilesPage> fetchPage;

  /** {@code fetchPage} returns the page of a token ({@code ""}: the first). */
  FileListing(Function<String, FilesPage> fetchPage) {
    this.fetchPage = Objects.requireNonNull(fetchPage, "fetchPage");
  }

  /** A new iteration from the first page; nothing is fetched until it is asked for a file. */
  @Override
  public Iterator<FileMetadata> iterator() {
    return new Pages(fetchPage);
  }

  /** The files as a sequential stream, fetching pages as it is consumed. */
  public Stream<FileMetadata> stream() {
    return StreamSupport.stream(
        Spliterators.spliteratorUnknownSize(
            iterator(), Spliterator.ORDERED | Spliterator.NONNULL),
        false);
  }

  /** The ListFiles request of a handle bound to {@code sessionId} ({@code null}: global). */
  static ListFilesRequest request(String sessionId, ListFilesOptions options, String pageToken) {
    ListFilesRequest.Builder request =
        ListFilesRequest.newBuilder()
            .setPathPrefix(options.pathPrefix())
            .setPageSize(options.pageSize())
            .setPageToken(pageToken == null ? "" : pageToken);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static FilesPage page(ListFilesResponse response) {
    return new FilesPage(
        response.getFilesList().stream().map(Convert::metadata).toList(),
        response.getNextPageToken(),
        response.getRevision());
  }

  /** The files of one page after another, each page fetched when the previous is consumed. */
  private static final class Pages implements Iterator<FileMetadata> {
    private final Function<String, FilesPage> fetchPage;
    private Iterator<FileMetadata> files = Collections.emptyIterator();
    private String nextPageToken = ""; // of the page to fetch next
    private boolean fetchedLast;

    Pages(Function<String, FilesPage> fetchPage) {
      this.fetchPage = fetchPage;
    }

    @Override
    public boolean hasNext() {
      while (!files.hasNext()) {
        if (fetchedLast) {
          return false;
        }
        FilesPage page = fetchPage.apply(nextPageToken);
        files = page.files().iterator();
        nextPageToken = page.nextPageToken();
        fetchedLast = page.isLast();
      }
      return true;
    }

    @Override
    public FileMetadata next() {
      if (!hasNext()) {
        throw new NoSuchElementException("no more files");
      }
      return files.next();
    }
  }
}
