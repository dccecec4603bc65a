package dev.contextstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.contextstore.v1.ContextStoreServiceGrpc;
import dev.contextstore.v1.ListFilesRequest;
import dev.contextstore.v1.ListFilesResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/** listFiles and listFilesPage against an in-process ListFiles over fixed pages. */
class FileListingTest {
  /**
   * Page i is answered to the token {@code t<i>} ({@code ""}: the first) and names {@code
   * t<i+1>} as the next, but the last, which names none. The second page is empty and not the
   * last.
   */
  private static final List<List<String>> PAGES =
      List.of(List.of("a/1", "a/2"), List.of(), List.of("a/3"));

  private final PagedService service = new PagedService();
  @AutoClose private final InProcessServer server = new InProcessServer(service);
  private final ContextStoreClient client = server.client();

  private static List<String> paths(Iterable<FileMetadata> files) {
    List<String> paths = new ArrayList<>();
    files.forEach(f -> paths.add(f.path()));
    return paths;
  }

  @Test
  void theIteratorFollowsTheTokensLazilyUntilAnEmptyOne() {
    FileListing listing =
        client.session("s1").listFiles(ListFilesOptions.prefix("a/").withPageSize(2));
    assertEquals(0, service.requests.size(), "nothing fetched before iteration");
    Iterator<FileMetadata> files = listing.iterator();
    assertEquals(0, service.requests.size(), "nothing fetched before asked for a file");
    assertEquals("a/1", files.next().path());
    assertEquals("a/2", files.next().path());
    assertEquals(1, service.requests.size(), "one page for its own files");
    assertEquals("a/3", files.next().path()); // through the empty page
    assertFalse(files.hasNext());
    assertThrows(NoSuchElementException.class, files::next);
    assertEquals(3, service.requests.size(), "no page after the one with an empty token");
    List<String> tokens = new ArrayList<>();
    for (ListFilesRequest request : service.requests) {
      assertEquals("s1", request.getSessionId());
      assertEquals("a/", request.getPathPrefix());
      assertEquals(2, request.getPageSize());
      tokens.add(request.getPageToken());
    }
    assertEquals(List.of("", "t1", "t2"), tokens);
  }

  @Test
  void eachIterationListsAfreshAndStreamsStopEarly() {
    FileListing listing = client.listFiles();
    assertEquals(List.of("a/1", "a/2", "a/3"), paths(listing));
    assertEquals(List.of("a/1", "a/2", "a/3"), paths(listing));
    assertEquals(6, service.requests.size());
    ListFilesRequest first = service.requests.get(0);
    assertFalse(first.hasSessionId(), "no session_id: the global namespace");
    assertEquals("", first.getPathPrefix());
    assertEquals(0, first.getPageSize(), "the server's default");

    service.requests.clear();
    assertEquals(
        List.of("a/1"),
        client.listFiles("a/").stream().limit(1).map(FileMetadata::path).toList());
    assertEquals(1, service.requests.size(), "the first page only");
    assertEquals("a/", service.requests.get(0).getPathPrefix());
  }

  @Test
  void onePageAtATimeWithTheCallersTokens() {
    ListFilesOptions options = ListFilesOptions.prefix("a/").withPageSize(2);
    FilesPage first = client.session("s1").listFilesPage(options, null);
    assertEquals(List.of("a/1", "a/2"), paths(first.files()));
    assertEquals("t1", first.nextPageToken());
    assertEquals(100, first.revision(), "the revision the page was read at");
    assertFalse(first.isLast());
    FilesPage empty = client.session("s1").listFilesPage(options, first.nextPageToken());
    assertTrue(empty.files().isEmpty());
    assertFalse(empty.isLast(), "an empty page need not be the last");
    FilesPage last = client.session("s1").listFilesPage(options, empty.nextPageToken());
    assertEquals(List.of("a/3"), paths(last.files()));
    assertTrue(last.isLast());
    assertEquals("", last.nextPageToken());
    assertEquals(102, last.revision());
    assertEquals("", service.requests.get(0).getPageToken(), "null: the first page");
  }

  @Test
  void aFailedPageThrowsFromTheIterator() {
    Iterator<FileMetadata> files = client.listFiles(ListFilesOptions.all()).iterator();
    files.next();
    files.next();
    service.failNext.set(1);
    ContextStoreException error = assertThrows(ContextStoreException.class, files::hasNext);
    assertEquals(Status.Code.INVALID_ARGUMENT, error.code());
  }

  @Test
  void listFilesIsRetriedOnUnavailable() {
    service.unavailableFirst.set(1);
    assertEquals(List.of("a/1", "a/2", "a/3"), paths(client.listFiles()));
    assertEquals(4, service.requests.size(), "one failed attempt, one retry, two more pages");
  }

  /** ListFiles over {@link #PAGES}, recording every request. */
  private static final class PagedService
      extends ContextStoreServiceGrpc.ContextStoreServiceImplBase {
    final List<ListFilesRequest> requests = new CopyOnWriteArrayList<>();
    final AtomicInteger unavailableFirst = new AtomicInteger();
    final AtomicInteger failNext = new AtomicInteger();

    @Override
    public void listFiles(ListFilesRequest request, StreamObserver<ListFilesResponse> observer) {
      requests.add(request);
      if (unavailableFirst.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        observer.onError(Status.UNAVAILABLE.withDescription("try again").asRuntimeException());
        return;
      }
      String token = request.getPageToken();
      if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0 || !token.matches("(t\\d+)?")) {
        observer.onError(
            Status.INVALID_ARGUMENT.withDescription("page_token").asRuntimeException());
        return;
      }
      int index = token.isEmpty() ? 0 : Integer.parseInt(token.substring(1));
      ListFilesResponse.Builder response =
          ListFilesResponse.newBuilder().setRevision(100 + index);
      for (String path : PAGES.get(index)) {
        response.addFiles(
            dev.contextstore.v1.FileMetadata.newBuilder().setPath(path).setSize(1).setVersion(1));
      }
      if (index + 1 < PAGES.size()) {
        response.setNextPageToken("t" + (index + 1));
      }
      observer.onNext(response.build());
      observer.onCompleted();
    }
  }
}
