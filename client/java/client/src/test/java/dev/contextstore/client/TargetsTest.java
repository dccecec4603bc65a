package dev.contextstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.contextstore.v1.ContextStoreServiceGrpc;
import dev.contextstore.v1.GetStatsRequest;
import dev.contextstore.v1.GetStatsResponse;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** How a target string reaches grpc-java, and that a list spreads calls over every server. */
class TargetsTest {
  @Test
  void oneAddressOrAUriGrpcResolvesIsHandedOverUnchanged() {
    for (String target :
        List.of(
            "127.0.0.1:50051",
            "localhost:50051",
            "[::1]:50051",
            "dns:///contextstore.internal:50051",
            "dns:///a:1,b:2", // a scheme grpc-java resolves: its to read, commas included
            "unix:///run/contextstore.sock")) {
      assertEquals(Optional.empty(), Targets.addressList(target), target);
    }
  }

  @Test
  void aListOfIpAddressesIsParsedWithoutALookup() throws IOException {
    assertEquals(
        Optional.of(
            List.of(
                new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 50051),
                new InetSocketAddress(InetAddress.getByName("::1"), 50052),
                new InetSocketAddress(InetAddress.getByName("10.0.0.2"), 1))),
        Targets.addressList("127.0.0.1:50051, [::1]:50052 ,10.0.0.2:1"));
  }

  @Test
  void aListItCannotTakeIsRefusedNamingTheEntry() {
    Map<String, String> refusals =
        Map.of(
            "localhost:50051,localhost:50052",
            "\"localhost:50051\" is not an IP address: a list takes IP addresses; for a host name"
                + " use dns:///NAME:PORT",
            "127.0.0.1:50051,127.0.0.1",
            "\"127.0.0.1\" has no port",
            "127.0.0.1:50051,[::1]",
            "\"[::1]\" has no port",
            "127.0.0.1:50051,::1",
            "\"::1\" has no port",
            "127.0.0.1:50051,127.0.0.1:0",
            "\"127.0.0.1:0\" has no valid port",
            "127.0.0.1:50051,127.0.0.1:70000",
            "\"127.0.0.1:70000\" is not an address",
            "127.0.0.1:50051,",
            "\"\" is not an address",
            "127.0.0.1:50051,127.0.0.1:x",
            "\"127.0.0.1:x\" is not an address");
    refusals.forEach(
        (target, message) -> {
          IllegalArgumentException error =
              assertThrows(IllegalArgumentException.class, () -> Targets.addressList(target));
          assertTrue(
              error.getMessage().startsWith("target \"" + target + "\": " + message),
              error.getMessage());
        });
  }

  @Test
  void theConstructorRefusesSuchAListBeforeOpeningAChannel() {
    IllegalArgumentException error =
        assertThrows(
            IllegalArgumentException.class, () -> new ContextStoreClient("db1:50051,db2:50051"));
    assertTrue(error.getMessage().contains("\"db1:50051\" is not an IP address"));
  }

  @Test
  void aListSpreadsTheCallsOverEveryServer() throws IOException, InterruptedException {
    List<AtomicInteger> answered = List.of(new AtomicInteger(), new AtomicInteger());
    List<Server> servers = answered.stream().map(TargetsTest::counting).toList();
    for (Server server : servers) {
      server.start();
    }
    String target =
        String.join(",", servers.stream().map(s -> "127.0.0.1:" + s.getPort()).toList());
    try (ContextStoreClient client = new ContextStoreClient(target)) {
      // round_robin picks a server once its connection is up, and the two come up in any
      // order: call until both have answered (pick_first would send every call to the first).
      for (int calls = 0; calls < 200 && answeredBy(answered) < 2; calls++) {
        client.stats();
      }
      assertEquals(2, answeredBy(answered), "every call went to one server: " + answered);
      // Both connected: the calls take turns.
      List<Integer> before = answered.stream().map(AtomicInteger::get).toList();
      for (int calls = 0; calls < 10; calls++) {
        client.stats();
      }
      assertEquals(5, answered.get(0).get() - before.get(0), answered.toString());
      assertEquals(5, answered.get(1).get() - before.get(1), answered.toString());
    } finally {
      for (Server server : servers) {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  private static long answeredBy(List<AtomicInteger> answered) {
    return answered.stream().filter(count -> count.get() > 0).count();
  }

  /** A server on a free port whose GetStats counts its calls in {@code answered}. */
  private static Server counting(AtomicInteger answered) {
    var service =
        new ContextStoreServiceGrpc.ContextStoreServiceImplBase() {
          @Override
          public void getStats(GetStatsRequest request, StreamObserver<GetStatsResponse> out) {
            answered.incrementAndGet();
            out.onNext(GetStatsResponse.getDefaultInstance());
            out.onCompleted();
          }
        };
    return Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
        .addService(service)
        .build();
  }
}
