package dev.contextstore.client;

/**
 * Which files {@link ContextStoreClient#listFiles(ListFilesOptions)} and {@link
 * ContextStoreClient#listFilesPage(ListFilesOptions, String)} list, and how many a page holds.
 *
 * @param pathPrefix only paths that start with it (compared as UTF-8 bytes); empty ({@code null}
 *     too): every path
 * @param pageSize most files in one page: {@code 0} is the server's default (100), more than
 *     1000 is 1000; a page may hold fewer and still not be the last. A negative one is sent as
 *     is, and refused by the server (INVALID_ARGUMENT {@code page_size}).
 */
public record ListFilesOptions(String pathPrefix, int pageSize) {
  public ListFilesOptions {
    pathPrefix = pathPrefix == null ? "" : pathPrefix;
  }

  /** Every file, in pages of the server's default size. */
  public static ListFilesOptions all() {
    return new ListFilesOptions("", 0);
  }

  /** The files under {@code pathPrefix}, in pages of the server's default size. */
  public static ListFilesOptions prefix(String pathPrefix) {
    return new ListFilesOptions(pathPrefix, 0);
  }

  /** The same files in pages of at most {@code pageSize} ({@code 0}: the server's default). */
  public ListFilesOptions withPageSize(int pageSize) {
    return new ListFilesOptions(pathPrefix, pageSize);
  }
}
