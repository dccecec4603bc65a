package dev.contextstore.client;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A fake service served in process, and a client (global namespace, 5 s deadline) over a channel
 * to it configured as {@link ContextStoreClient#configure} does. Closing shuts both down. A test
 * class holds one per test in a field marked {@code @AutoClose}, its client in the next field.
 */
@SuppressWarnings("try") // close() may throw InterruptedException: it waits for the shutdown.
final class InProcessServer implements AutoCloseable {
  private final Server server;
  private final ManagedChannel channel;
  private final ContextStoreClient client;

  /** Starts serving {@code service}; a failure to start is an {@link UncheckedIOException}. */
  InProcessServer(BindableService service) {
    String name = InProcessServerBuilder.generateName();
    try {
      server =
          InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    channel =
        Channels.configure(
                InProcessChannelBuilder.forName(name).directExecutor(),
                ContextStoreClient.DEFAULT_MAX_MESSAGE_BYTES)
            .build();
    client = ContextStoreClient.of(channel, Duration.ofSeconds(5));
  }

  /** The client over the channel to the server, bound to the global namespace. */
  ContextStoreClient client() {
    return client;
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
