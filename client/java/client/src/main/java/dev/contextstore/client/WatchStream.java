package dev.contextstore.client;

import dev.contextstore.v1.WatchRequest;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The changes of a namespace, from {@link ContextStoreClient#watch(long, String)}: a blocking,
 * single-use {@link Iterable} of {@link WatchResponse}s that must be closed, like {@link
 * java.nio.file.DirectoryStream}.
 *
 * <pre>{@code
 * try (WatchStream changes = session.watch(page.revision(), "src/")) {
 *   for (WatchResponse response : changes) {
 *     if (!response.progress()) apply(response.events());
 *   }
 * }
 * }</pre>
 *
 * <p>Nothing is sent until iteration starts. {@code hasNext()} blocks until the next response;
 * progress responses are returned too (the first one, then heartbeats while nothing changes):
 * they say which revision the watch is up to date with.
 *
 * <p><b>Resuming.</b> The contract ends a Watch stream with UNAVAILABLE whenever the server drops
 * it (restarting, draining, a lost connection, or ending long-lived streams on purpose), and its
 * start revision is exclusive: so the stream reopens the call from the revision of the last
 * response received (the caller's start revision while none was), and the caller sees no gap and
 * no duplicate (the resumed call's first response, a progress at that same revision, is not
 * returned). It keeps reopening while less than the resume timeout ({@link
 * ContextStoreClient#watch(long, String, Duration)}; {@link #DEFAULT_RESUME_TIMEOUT} by default)
 * has passed since the first failure of the current run of failures; a response received ends
 * the run. The first reopening is at once, then after 100 ms doubling up to 2 s, never past the
 * time left; when the time is up, the last UNAVAILABLE error is thrown. A call that ends with OK
 * (the server never does) is resumed the same way.
 *
 * <p><b>Errors</b> other than UNAVAILABLE end the iteration, thrown from {@code hasNext()} as the
 * client's other calls throw them: a start revision the server no longer retains as {@link
 * RevisionCompactedException} (re-read, then watch again), an invalid request as INVALID_ARGUMENT.
 *
 * <p><b>Cancelling.</b> The call has no deadline. {@link #close()} cancels it, from any thread: a
 * {@code hasNext()} blocked in another thread then returns false. The watch is bound to the gRPC
 * {@link Context} current when it was made: cancelling that context, or its deadline, ends it
 * with CANCELLED or DEADLINE_EXCEEDED; so does interrupting the iterating thread (CANCELLED).
 */
public final class WatchStream implements Iterable<WatchResponse>, AutoCloseable {
  /**
   * How long a watch keeps reopening the call without receiving anything, unless {@link
   * ContextStoreClient#watch(long, String, Duration)} says otherwise: long enough for a server to
   * restart and the channel to reconnect (gRPC's reconnect backoff alone is about 1 s).
   */
  public static final Duration DEFAULT_RESUME_TIMEOUT = Duration.ofSeconds(30);

  private static final Duration INITIAL_BACKOFF = Duration.ofMillis(100);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(2);

  private final Connection connection;
  private final WatchRequest request;
  private final Resume resume;
  private final Context parent; // the caller's: its cancellation and deadline end the watch
  private final CountDownLatch closing = new CountDownLatch(1); // wakes a backoff pause
  private volatile boolean closed;
  private volatile Context.CancellableContext call; // the open call's; null between calls
  private boolean iterated;

  WatchStream(Connection connection, WatchRequest request, Resume resume) {
    this.connection = connection;
    this.request = request;
    this.resume = resume;
    this.parent = Context.current();
  }

  /**
   * How long a watch waits before reopening the call, and when it gives up: the policy every
   * client shares (the Python client's {@code Resume}). Used by one thread at a time.
   */
  static final class Resume {
    private final Duration patience; // the resume timeout
    private final LongSupplier clock; // nanoseconds, as System::nanoTime
    private boolean failing; // in a run of failures, which began at failingSince
    private long failingSince;
    private int attempts; // reopenings in the current run

    Resume(Duration patience, LongSupplier clock) {
      this.patience = Objects.requireNonNull(patience, "resumeTimeout");
      this.clock = clock;
    }

    /** A response arrived: the run of failures, if any, is over. */
    void received() {
      failing = false;
      attempts = 0;
    }

    /**
     * The pause before reopening after a failure with {@code code}; null: give up (not
     * UNAVAILABLE, or the resume timeout has passed since the run of failures began).
     */
    Duration backoff(Status.Code code) {
      if (code != Status.Code.UNAVAILABLE) {
        return null;
      }
      long now = clock.getAsLong();
      if (!failing) {
        failing = true;
        failingSince = now;
      }
      Duration left = patience.minus(Duration.ofNanos(now - failingSince));
      if (left.isNegative() || left.isZero()) {
        return null;
      }
      attempts++;
      // The first at once (a server ending a call on purpose is up), then backing off.
      if (attempts == 1) {
        return Duration.ZERO;
      }
      Duration delay = INITIAL_BACKOFF.multipliedBy(1L << Math.min(attempts - 2, 20));
      delay = delay.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : delay;
      return delay.compareTo(left) > 0 ? left : delay;
    }
  }

  /**
   * The responses, blocking for each; once only.
   *
   * @throws IllegalStateException when called a second time
   */
  @Override
  public Iterator<WatchResponse> iterator() {
    synchronized (this) {
      if (iterated) {
        throw new IllegalStateException("a WatchStream is iterated once");
      }
      iterated = true;
    }
    return new Responses();
  }

  /** Cancels the open call, if any; the iteration then ends. Idempotent, from any thread. */
  @Override
  public void close() {
    closed = true;
    closing.countDown();
    Context.CancellableContext open = call;
    if (open != null) {
      open.cancel(null);
    }
  }

  /** The calls one after another, as one iteration; used by one thread at a time. */
  private final class Responses implements Iterator<WatchResponse> {
    private Iterator<dev.contextstore.v1.WatchResponse> responses; // of the open call
    private Long last; // the revision of the last response received; null: none yet
    private Long resumedFrom; // the open call's start, when it resumes after a response
    private boolean receivedThisCall;
    private boolean finished; // a terminal error was thrown
    private WatchResponse next; // fetched, not yet returned

    @Override
    public boolean hasNext() {
      while (next == null) {
        if (closed || finished) {
          return false;
        }
        try {
          if (responses == null) {
            open();
          }
          if (responses.hasNext()) {
            receive(responses.next());
          } else {
            drop(unavailable("the watch stream ended without a status"));
          }
        } catch (StatusRuntimeException error) {
          if (closed) {
            endCall();
            return false; // close() cancelled it
          }
          ContextStoreException failure = ContextStoreException.from(error);
          if (failure.code() != Status.Code.UNAVAILABLE) {
            throw finish(failure);
          }
          drop(failure);
        }
      }
      return true;
    }

    @Override
    public WatchResponse next() {
      if (!hasNext()) {
        throw new NoSuchElementException("the watch is closed");
      }
      WatchResponse response = next;
      next = null;
      return response;
    }

    private void open() {
      resumedFrom = last;
      receivedThisCall = false;
      WatchRequest attempt =
          last == null ? request : request.toBuilder().setStartRevision(last).build();
      Context.CancellableContext context = parent.withCancellation();
      call = context;
      if (closed) {
        context.cancel(null); // close() ran before this call was visible to it
      }
      responses = connection.stream(context, stub -> stub.watch(attempt));
    }

    private void receive(dev.contextstore.v1.WatchResponse message) {
      boolean repeat =
          !receivedThisCall
              && resumedFrom != null
              && message.getProgress()
              && message.getRevision() == resumedFrom;
      receivedThisCall = true;
      resume.received();
      last = message.getRevision();
      if (!repeat) {
        next = Convert.watchResponse(message);
      }
    }

    /** The call ended with UNAVAILABLE (or OK): pause, then reopen, or give up. */
    private void drop(ContextStoreException failure) {
      endCall();
      Duration pause = resume.backoff(failure.code());
      if (pause == null) {
        throw finish(failure);
      }
      try {
        closing.await(pause.toNanos(), TimeUnit.NANOSECONDS);
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        throw finish(
            new ContextStoreException(
                Status.Code.CANCELLED, "interrupted", List.of(), List.of(), interrupted));
      }
    }

    private ContextStoreException finish(ContextStoreException failure) {
      finished = true;
      endCall();
      return failure;
    }

    /** Cancels the call's context: a no-op on the call once it ended, and it frees the context. */
    private void endCall() {
      Context.CancellableContext open = call;
      call = null;
      responses = null;
      if (open != null) {
        open.cancel(null);
      }
    }
  }

  private static ContextStoreException unavailable(String description) {
    return new ContextStoreException(
        Status.Code.UNAVAILABLE, description, List.of(), List.of(), null);
  }
}
