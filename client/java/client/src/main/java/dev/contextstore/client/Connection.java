package dev.contextstore.client;

import dev.contextstore.v1.ContextStoreServiceGrpc;
import dev.contextstore.v1.ContextStoreServiceGrpc.ContextStoreServiceBlockingStub;
import io.grpc.CallCredentials;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Iterator;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * What a {@link ContextStoreClient} handle calls through: a channel, the stub over it (sending
 * the token, if any), the per-call deadline, and the channel itself when the handle opened it and
 * so closes it.
 */
final class Connection implements AutoCloseable {
  private final Channel channel;
  private final ManagedChannel owned; // null for handles and borrowed channels
  private final CallCredentials token; // null: no token
  private final ContextStoreServiceBlockingStub stub;
  private final Duration timeout;

  private Connection(
      Channel channel, ManagedChannel owned, CallCredentials token, Duration timeout) {
    this.channel = channel;
    this.owned = owned;
    this.token = token;
    ContextStoreServiceBlockingStub plain = ContextStoreServiceGrpc.newBlockingStub(channel);
    this.stub = token == null ? plain : plain.withCallCredentials(token);
    this.timeout = Objects.requireNonNull(timeout, "timeout");
  }

  /** Over a channel opened for it, which {@link #close()} closes. */
  static Connection owning(ManagedChannel channel, CallCredentials token, Duration timeout) {
    return new Connection(channel, channel, token, timeout);
  }

  /** Over a channel the caller keeps owning, sending no token of its own. */
  static Connection borrowing(Channel channel, Duration timeout) {
    return new Connection(channel, null, null, timeout);
  }

  /** The same channel, token and deadline, for a handle: it never closes the channel. */
  Connection share() {
    return share(timeout);
  }

  /** The same channel and token with another deadline, for a handle: never closes the channel. */
  Connection share(Duration timeout) {
    return new Connection(channel, null, token, timeout);
  }

  Duration timeout() {
    return timeout;
  }

  /** Runs one call with the deadline, a failure thrown as {@link ContextStoreException}. */
  <R> R call(Function<ContextStoreServiceBlockingStub, R> rpc) {
    try {
      return rpc.apply(stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS));
    } catch (StatusRuntimeException error) {
      throw ContextStoreException.from(error);
    }
  }

  /**
   * Starts a server-streaming call (Watch) in {@code context}, without the per-call deadline: a
   * stream lives until its caller cancels {@code context} (or a deadline of its own ends it). A
   * failure surfaces from the iterator, as a {@link StatusRuntimeException}.
   */
  <R> Iterator<R> stream(
      Context context, Function<ContextStoreServiceBlockingStub, Iterator<R>> rpc) {
    Context previous = context.attach(); // the call is bound to the context current as it starts
    try {
      return rpc.apply(stub);
    } finally {
      context.detach(previous);
    }
  }

  /** {@link #call}, NOT_FOUND returned as empty. */
  <R> Optional<R> read(Function<ContextStoreServiceBlockingStub, R> rpc) {
    try {
      return Optional.of(call(rpc));
    } catch (ContextStoreException error) {
      if (error.code() == Status.Code.NOT_FOUND) {
        return Optional.empty();
      }
      throw error;
    }
  }

  /** Closes the channel if it was opened for this connection; a no-op otherwise. */
  @Override
  public void close() {
    if (owned == null) {
      return;
    }
    owned.shutdown();
    try {
      if (!owned.awaitTermination(5, TimeUnit.SECONDS)) {
        owned.shutdownNow();
      }
    } catch (InterruptedException interrupted) {
      owned.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
