package dev.contextstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import dev.contextstore.v1.ContextStoreServiceGrpc;
import dev.contextstore.v1.WatchRequest;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/** Watch against an in-process fake: typed responses, automatic resume, the compaction error. */
class WatchTest {
  private static final Map<String, String> COMPACTED =
      Map.of("oldest_revision", "1700000000000100", "current_revision", "1700000000000250");

  private final FakeService service = new FakeService();

  /**
   * Every call sends its response headers at once: the channel retries a read on UNAVAILABLE only
   * until the server answers, and these tests count the client's own attempts.
   */
  private final ServerInterceptor headersFirst =
      new ServerInterceptor() {
        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
          call.sendHeaders(new Metadata());
          return next.startCall(
              new SimpleForwardingServerCall<Q, R>(call) {
                @Override
                public void sendHeaders(Metadata sent) {} // already sent
              },
              headers);
        }
      };

  @AutoClose
  private final InProcessServer server =
      new InProcessServer(() -> ServerInterceptors.intercept(service, headersFirst));

  private final ContextStoreClient client = server.client();

  @AutoClose("shutdownNow")
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

  private static StatusRuntimeException failure(Code code, ErrorInfo info) {
    com.google.rpc.Status status =
        com.google.rpc.Status.newBuilder()
            .setCode(code.getNumber())
            .setMessage("compacted")
            .addDetails(Any.pack(info))
            .build();
    return StatusProto.toStatusRuntimeException(status);
  }

  private static ErrorInfo info(String reason, String domain, Map<String, String> metadata) {
    return ErrorInfo.newBuilder()
        .setReason(reason)
        .setDomain(domain)
        .putAllMetadata(metadata)
        .build();
  }

  private static dev.contextstore.v1.WatchResponse progress(long revision) {
    return dev.contextstore.v1.WatchResponse.newBuilder()
        .setRevision(revision)
        .setProgress(true)
        .build();
  }

  private static dev.contextstore.v1.WatchResponse change(long revision, String path) {
    return dev.contextstore.v1.WatchResponse.newBuilder()
        .setRevision(revision)
        .addEvents(
            dev.contextstore.v1.WatchEvent.newBuilder()
                .setKind(dev.contextstore.v1.WatchEventKind.WATCH_EVENT_KIND_FILE_CACHED)
                .setPath(path)
                .setVersion(1))
        .build();
  }

  private static List<WatchResponse> take(WatchStream watch, int count) {
    List<WatchResponse> taken = new ArrayList<>();
    for (WatchResponse response : watch) {
      taken.add(response);
      if (taken.size() == count) {
        break;
      }
    }
    return taken;
  }

  @Test
  void outOfRangeWithARevisionCompactedErrorInfoIsARevisionCompactedException() {
    ContextStoreException error =
        ContextStoreException.from(
            failure(Code.OUT_OF_RANGE, info("REVISION_COMPACTED", "contextstore.dev", COMPACTED)));
    RevisionCompactedException compacted =
        assertInstanceOf(RevisionCompactedException.class, error);
    assertEquals(Status.Code.OUT_OF_RANGE, compacted.code());
    assertEquals("compacted", compacted.description());
    assertEquals(1_700_000_000_000_100L, compacted.oldestRevision());
    assertEquals(1_700_000_000_000_250L, compacted.currentRevision());

    List<StatusRuntimeException> others =
        List.of(
            failure(Code.OUT_OF_RANGE, info("SOMETHING_ELSE", "contextstore.dev", COMPACTED)),
            failure(Code.OUT_OF_RANGE, info("REVISION_COMPACTED", "example.com", COMPACTED)),
            failure(
                Code.OUT_OF_RANGE,
                info("REVISION_COMPACTED", "contextstore.dev", Map.of("oldest_revision", "1"))),
            failure(
                Code.OUT_OF_RANGE,
                info(
                    "REVISION_COMPACTED",
                    "contextstore.dev",
                    Map.of("oldest_revision", "x", "current_revision", "2"))),
            failure(Code.ABORTED, info("REVISION_COMPACTED", "contextstore.dev", COMPACTED)));
    for (StatusRuntimeException other : others) {
      ContextStoreException plain = ContextStoreException.from(other);
      assertFalse(plain instanceof RevisionCompactedException, other.toString());
      assertFalse(plain instanceof PreconditionFailedException, other.toString());
      assertEquals(other.getStatus().getCode(), plain.code());
    }
  }

  private static final Status.Code DOWN = Status.Code.UNAVAILABLE;

  private static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }

  @Test
  void aDroppedStreamIsReopenedAtOnceThenAfter100msDoublingTo2s() {
    // The clock stands still: no pause is cut short.
    WatchStream.Resume resume = new WatchStream.Resume(Duration.ofHours(1), () -> 0L);
    List<Long> delays = new ArrayList<>();
    for (int retry = 1; retry <= 9; retry++) {
      delays.add(resume.backoff(DOWN).toMillis());
    }
    assertEquals(List.of(0L, 100L, 200L, 400L, 800L, 1600L, 2000L, 2000L, 2000L), delays);
  }

  @Test
  void resumingGoesOnUntilTheResumeTimeoutHasPassedSinceTheFirstFailureNeverPastIt() {
    AtomicLong clock = new AtomicLong(5_000_000_000L);
    WatchStream.Resume resume = new WatchStream.Resume(Duration.ofSeconds(1), clock::get);
    assertEquals(Duration.ZERO, resume.backoff(DOWN)); // the run begins: at once
    clock.addAndGet(ms(10).toNanos());
    assertEquals(ms(100), resume.backoff(DOWN));
    clock.addAndGet(ms(690).toNanos()); // at 700 ms: 300 ms left
    assertEquals(ms(200), resume.backoff(DOWN));
    clock.addAndGet(ms(200).toNanos()); // at 900 ms: 400 ms, cut to the 100 ms left
    assertEquals(ms(100), resume.backoff(DOWN));
    clock.addAndGet(ms(100).toNanos()); // at 1 s: the timeout has passed
    assertNull(resume.backoff(DOWN));
  }

  @Test
  void aResponseReceivedResetsTheResumeTimeout() {
    AtomicLong clock = new AtomicLong();
    WatchStream.Resume resume = new WatchStream.Resume(Duration.ofSeconds(1), clock::get);
    for (long step : new long[] {0, 500, 400}) {
      clock.addAndGet(ms(step).toNanos());
      assertNotNull(resume.backoff(DOWN));
    }
    resume.received();
    clock.addAndGet(ms(600).toNanos()); // 1.5 s after the first failure, first of a new run
    assertEquals(Duration.ZERO, resume.backoff(DOWN));
    clock.addAndGet(ms(900).toNanos());
    assertEquals(ms(100), resume.backoff(DOWN));
    clock.addAndGet(ms(100).toNanos());
    assertNull(resume.backoff(DOWN));
  }

  @Test
  void onlyUnavailableIsResumedAndAZeroTimeoutResumesNothing() {
    WatchStream.Resume resume = new WatchStream.Resume(Duration.ofSeconds(1), () -> 0L);
    for (Status.Code code :
        List.of(Status.Code.OUT_OF_RANGE, Status.Code.INVALID_ARGUMENT, Status.Code.INTERNAL)) {
      assertNull(resume.backoff(code), code.toString());
    }
    assertEquals(Duration.ZERO, resume.backoff(DOWN), "and they started no run");
    assertNull(new WatchStream.Resume(Duration.ZERO, () -> 0L).backoff(DOWN));
    assertThrows(NullPointerException.class, () -> client.watch(0, "", (Duration) null));
  }

  @Test
  void theWatchResumesFromTheLastRevisionWithNoGapAndNoDuplicate() {
    // Like the conformance server: every stream ends (UNAVAILABLE) after its first change; the
    // second call also ends once before sending anything.
    service.behaviour =
        (request, observer) -> {
          if (service.requests.size() == 2) {
            observer.onError(Status.UNAVAILABLE.asRuntimeException());
            return;
          }
          long start = request.getStartRevision() == 0 ? 10 : request.getStartRevision();
          observer.onNext(progress(start));
          observer.onNext(change(start + 1, "f" + (start + 1)));
          observer.onError(Status.UNAVAILABLE.withDescription("dropped").asRuntimeException());
        };
    List<WatchResponse> responses;
    try (WatchStream watch = client.session("s1").watch(0, "f")) {
      assertEquals(0, service.requests.size(), "nothing is sent before iteration starts");
      responses = take(watch, 4);
    }
    assertEquals(new WatchResponse(10, List.of(), true), responses.get(0)); // the first progress
    assertEquals(
        new WatchEvent(
            WatchEventKind.FILE_CACHED, "f11", new byte[0], 1, "", RemovalReason.UNSPECIFIED),
        responses.get(1).events().get(0));
    assertEquals(
        List.of(10L, 11L, 12L, 13L), responses.stream().map(WatchResponse::revision).toList());
    assertEquals(
        List.of(false, false, false), // a resumed stream's progress at 11, 12 is not returned
        responses.subList(1, 4).stream().map(WatchResponse::progress).toList());
    List<Long> starts = service.requests.stream().map(WatchRequest::getStartRevision).toList();
    assertEquals(List.of(0L, 11L, 11L, 12L), starts, "from now, then the last revision received");
    for (WatchRequest request : service.requests) {
      assertEquals("s1", request.getSessionId());
      assertEquals("f", request.getPathPrefix());
    }
    assertEquals(List.of(false, false, false, false), service.hadDeadline, "no per-call deadline");
  }

  @Test
  void theWatchGivesUpWithUnavailableOnceItsResumeTimeoutHasPassed() {
    service.behaviour =
        (request, observer) -> observer.onError(Status.UNAVAILABLE.asRuntimeException());
    Duration timeout = ms(300);
    long began = System.nanoTime();
    try (WatchStream watch = client.session("s").watch(7, "", timeout)) {
      Iterator<WatchResponse> responses = watch.iterator();
      ContextStoreException error = assertThrows(ContextStoreException.class, responses::hasNext);
      assertEquals(Status.Code.UNAVAILABLE, error.code());
      assertFalse(responses.hasNext(), "the iteration is over");
    }
    Duration elapsed = Duration.ofNanos(System.nanoTime() - began);
    assertTrue(
        elapsed.compareTo(timeout) >= 0 && elapsed.compareTo(Duration.ofSeconds(5)) < 0,
        elapsed.toString());
    List<Long> starts = service.requests.stream().map(WatchRequest::getStartRevision).toList();
    assertTrue(starts.size() >= 2 && starts.size() <= 10, starts.toString());
    assertTrue(starts.stream().allMatch(start -> start == 7), "from the caller's start revision");
  }

  @Test
  void theWatchCarriesOnWhileNoRunOfFailuresLastsTheTimeoutAsAResponseResetsIt() {
    // A clock that moves 1 s at each call, and a 2.5 s timeout: 3 failed calls (2 s), one that
    // receives, then drops (a new run), 2 failed ones (2 s again), one that receives: 5 s of
    // failures in all, never 2.5 s since a response.
    AtomicLong clock = new AtomicLong();
    List<String> script = List.of("drop", "drop", "drop", "send", "drop", "drop", "send");
    service.behaviour =
        (request, observer) -> {
          clock.addAndGet(Duration.ofSeconds(1).toNanos());
          if (script.get(service.requests.size() - 1).equals("send")) {
            long start = request.getStartRevision();
            observer.onNext(progress(start));
            observer.onNext(change(start + 1, "a"));
            observer.onCompleted(); // OK: resumed like UNAVAILABLE
          } else {
            observer.onError(Status.UNAVAILABLE.asRuntimeException());
          }
        };
    WatchStream.Resume resume = new WatchStream.Resume(ms(2500), clock::get);
    try (WatchStream watch = client.watch(7, "", resume)) {
      assertEquals(
          List.of(7L, 8L, 9L), // the second 8, a resumed call's progress, is not returned
          take(watch, 3).stream().map(WatchResponse::revision).toList());
    }
    assertEquals(
        List.of(7L, 7L, 7L, 7L, 8L, 8L, 8L),
        service.requests.stream().map(WatchRequest::getStartRevision).toList());

    // Without the responses, the same clock gives up at the 4th call.
    service.requests.clear();
    service.behaviour =
        (request, observer) -> {
          clock.addAndGet(Duration.ofSeconds(1).toNanos());
          observer.onError(Status.UNAVAILABLE.asRuntimeException());
        };
    resume = new WatchStream.Resume(ms(2500), clock::get);
    try (WatchStream watch = client.watch(7, "", resume)) {
      ContextStoreException error =
          assertThrows(ContextStoreException.class, () -> watch.iterator().hasNext());
      assertEquals(Status.Code.UNAVAILABLE, error.code());
    }
    assertEquals(4, service.requests.size());
  }

  @Test
  void aCompactedStartRevisionOrAnotherErrorEndsTheWatchAtOnce() {
    service.behaviour =
        (request, observer) ->
            observer.onError(
                request.getStartRevision() < 0
                    ? Status.INVALID_ARGUMENT.withDescription("start_revision").asRuntimeException()
                    : failure(
                        Code.OUT_OF_RANGE,
                        info("REVISION_COMPACTED", "contextstore.dev", COMPACTED)));
    try (WatchStream watch = client.watch(1)) {
      Iterator<WatchResponse> responses = watch.iterator();
      RevisionCompactedException compacted =
          assertThrows(RevisionCompactedException.class, responses::hasNext);
      assertEquals(1_700_000_000_000_100L, compacted.oldestRevision());
      assertEquals(1_700_000_000_000_250L, compacted.currentRevision());
      assertFalse(responses.hasNext(), "the iteration is over");
    }
    try (WatchStream watch = client.watch(-1)) {
      ContextStoreException invalid =
          assertThrows(ContextStoreException.class, () -> watch.iterator().hasNext());
      assertEquals(Status.Code.INVALID_ARGUMENT, invalid.code());
    }
    assertEquals(
        List.of(1L, -1L),
        service.requests.stream().map(WatchRequest::getStartRevision).toList(),
        "one call each, not resumed");
  }

  @Test
  void closeFromAnotherThreadCancelsTheCallAndEndsTheIteration() throws InterruptedException {
    CountDownLatch cancelled = new CountDownLatch(1);
    service.behaviour =
        (request, observer) -> {
          ((ServerCallStreamObserver<?>) observer).setOnCancelHandler(cancelled::countDown);
          observer.onNext(progress(5)); // then nothing: the stream stays open
        };
    WatchStream watch = client.watch();
    Iterator<WatchResponse> responses = watch.iterator();
    assertThrows(IllegalStateException.class, watch::iterator, "iterated once");
    assertEquals(5, responses.next().revision());
    timer.schedule(watch::close, 200, TimeUnit.MILLISECONDS);
    assertFalse(responses.hasNext(), "a blocked hasNext() returns false once closed");
    assertTrue(cancelled.await(5, TimeUnit.SECONDS), "the server saw the call cancelled");
    watch.close(); // idempotent
    assertEquals(1, service.requests.size());
  }

  @Test
  void theCallersContextDeadlineEndsTheWatch() throws Exception {
    service.behaviour = (request, observer) -> observer.onNext(progress(5));
    Context.CancellableContext context =
        Context.current().withDeadline(Deadline.after(300, TimeUnit.MILLISECONDS), timer);
    try (context;
        WatchStream watch = context.call(() -> client.watch())) {
      Iterator<WatchResponse> responses = watch.iterator(); // iterated outside the context
      assertEquals(5, responses.next().revision());
      ContextStoreException error = assertThrows(ContextStoreException.class, responses::hasNext);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, error.code());
    }
    assertEquals(List.of(true), service.hadDeadline, "the caller's own deadline, not the client's");
    assertNull(Context.current().getDeadline());
  }

  /** Watch as {@link #behaviour} says, recording every request and whether it had a deadline. */
  private static final class FakeService
      extends ContextStoreServiceGrpc.ContextStoreServiceImplBase {
    final List<WatchRequest> requests = new CopyOnWriteArrayList<>();
    final List<Boolean> hadDeadline = new CopyOnWriteArrayList<>();
    volatile BiConsumer<WatchRequest, StreamObserver<dev.contextstore.v1.WatchResponse>> behaviour;

    @Override
    public void watch(
        WatchRequest request, StreamObserver<dev.contextstore.v1.WatchResponse> observer) {
      requests.add(request);
      hadDeadline.add(Context.current().getDeadline() != null);
      behaviour.accept(request, observer);
    }
  }
}
