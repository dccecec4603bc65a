package dev.contextstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.contextstore.v1.ContextStoreServiceGrpc;
import dev.contextstore.v1.GetStatsRequest;
import dev.contextstore.v1.GetStatsResponse;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS, mTLS and the bearer token against real grpc-java servers with real certificates. */
class TlsTest {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** What a server saw of one call: the authorization headers and the client certificate. */
  record Seen(List<String> authorization, String peer) {}

  // One CA for the class: making keys and certificates is the slow part.
  @TempDir static Path directory;
  private static TestPki pki;
  private static TestPki.Pair agent;
  private static Tls mtls;
  private final List<Server> servers = new ArrayList<>();

  @BeforeAll
  static void certificates() throws IOException, GeneralSecurityException {
    pki = TestPki.make(directory, "ca");
    agent = pki.client("agent-7");
    mtls = Tls.trusting(pki.caFile).withClientCertificate(agent.cert(), agent.key());
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (Server server : servers) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void overMtlsTheClientSendsItsCertificateAndTheTokenAsABearerHeader() throws IOException {
    List<Seen> seen = new CopyOnWriteArrayList<>();
    int port = serve(mtlsCredentials(pki.server), seen);
    try (ContextStoreClient client = client("127.0.0.1:" + port).tls(mtls).token("t-1").build()) {
      client.session("s").stats(); // a handle keeps the client's token
    }
    assertEquals(List.of(new Seen(List.of("Bearer t-1"), "CN=agent-7")), seen);
  }

  @Test
  void aClientKeyInTheTraditionalSec1FormIsReadToo() throws IOException, GeneralSecurityException {
    TestPki.Pair sec1 = pki.clientWithSec1Key("agent-8");
    assertTrue(Files.readString(sec1.key()).startsWith("-----BEGIN EC PRIVATE KEY-----"));
    List<Seen> seen = new CopyOnWriteArrayList<>();
    int port = serve(mtlsCredentials(pki.server), seen);
    Tls tls = Tls.trusting(pki.caFile).withClientCertificate(sec1.cert(), sec1.key());
    try (ContextStoreClient client = client("127.0.0.1:" + port).tls(tls).build()) {
      client.stats();
    }
    assertEquals(List.of(new Seen(List.of(), "CN=agent-8")), seen);
  }

  @Test
  void aServerWhoseCertificateAnotherCaSignedIsRefused()
      throws IOException, GeneralSecurityException {
    List<Seen> seen = new CopyOnWriteArrayList<>();
    int port = serve(mtlsCredentials(pki.server), seen);
    TestPki other = TestPki.make(directory.resolve("other"), "other");
    Tls wrongCa = Tls.trusting(other.caFile).withClientCertificate(agent.cert(), agent.key());
    try (ContextStoreClient client =
        client("127.0.0.1:" + port).tls(wrongCa).timeout(Duration.ofSeconds(2)).build()) {
      ContextStoreException error = assertThrows(ContextStoreException.class, client::stats);
      assertEquals(Status.Code.UNAVAILABLE, error.code());
    }
    assertEquals(List.of(), seen);
  }

  @Test
  void onPlaintextTheTokenIsTheOptionElseTheEnvironmentAndEmptySendsNothing() throws IOException {
    List<Seen> seen = new CopyOnWriteArrayList<>();
    String target = "127.0.0.1:" + serve(InsecureServerCredentials.create(), seen);
    Function<String, String> env = Map.of("CONTEXTSTORE_TOKEN", "from-env")::get;
    List<ContextStoreClient.Builder> builders =
        List.of(
            client(target).environment(env),
            client(target).environment(env).token("explicit"),
            client(target).environment(env).token(""),
            client(target).environment(name -> null));
    for (ContextStoreClient.Builder builder : builders) {
      try (ContextStoreClient client = builder.build()) {
        client.withTimeout(Duration.ofSeconds(3)).stats();
      }
    }
    assertEquals(
        List.of(List.of("Bearer from-env"), List.of("Bearer explicit"), List.of(), List.of()),
        seen.stream().map(Seen::authorization).toList());
  }

  @Test
  void overTlsEveryServerOfAListIsVerifiedAgainstItsOwnAddress()
      throws IOException, GeneralSecurityException {
    // The second server's certificate names 127.0.0.2 only: checked against the list's first
    // address (127.0.0.1), its handshake would fail and it would never answer.
    List<Seen> first = new CopyOnWriteArrayList<>();
    List<Seen> second = new CopyOnWriteArrayList<>();
    int a = serve(mtlsCredentials(pki.server), first);
    int b = serve(mtlsCredentials(pki.serverFor("127.0.0.2")), second);
    String target = "127.0.0.1:" + a + ",127.0.0.2:" + b;
    try (ContextStoreClient client = client(target).tls(mtls).token("t-2").build()) {
      for (int calls = 0; calls < 200 && (first.isEmpty() || second.isEmpty()); calls++) {
        client.stats();
      }
    }
    assertTrue(!first.isEmpty() && !second.isEmpty(), "a server never answered: " + second);
    assertEquals(new Seen(List.of("Bearer t-2"), "CN=agent-7"), second.get(0));
  }

  @Test
  void overTlsADnsTargetIsVerifiedAgainstTheNameDialled() throws IOException {
    List<Seen> seen = new CopyOnWriteArrayList<>();
    int port = serve(mtlsCredentials(pki.server), seen);
    try (ContextStoreClient client = client("dns:///localhost:" + port).tls(mtls).build()) {
      client.stats();
    }
    assertEquals(1, seen.size());
  }

  @Test
  void anUnreadableCaFileIsRefusedNamingIt() {
    Path missing = directory.resolve("missing.pem");
    UncheckedIOException error =
        assertThrows(
            UncheckedIOException.class,
            () -> client("127.0.0.1:1").tls(Tls.trusting(missing)).build());
    assertTrue(error.getMessage().contains("CA file " + missing), error.getMessage());
  }

  private static ContextStoreClient.Builder client(String target) {
    return ContextStoreClient.builder(target).timeout(Duration.ofSeconds(5));
  }

  private ServerCredentials mtlsCredentials(TestPki.Pair server) throws IOException {
    return TlsServerCredentials.newBuilder()
        .keyManager(server.cert().toFile(), server.key().toFile())
        .trustManager(pki.caFile.toFile())
        .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
        .build();
  }

  /** Starts a GetStats-only server on a free port, recording each call in {@code seen}. */
  private int serve(ServerCredentials credentials, List<Seen> seen) throws IOException {
    var service =
        new ContextStoreServiceGrpc.ContextStoreServiceImplBase() {
          @Override
          public void getStats(GetStatsRequest request, StreamObserver<GetStatsResponse> out) {
            out.onNext(GetStatsResponse.getDefaultInstance());
            out.onCompleted();
          }
        };
    Server server =
        Grpc.newServerBuilderForPort(0, credentials)
            .addService(ServerInterceptors.intercept(service, recorder(seen)))
            .build()
            .start();
    servers.add(server);
    return server.getPort();
  }

  private static ServerInterceptor recorder(List<Seen> seen) {
    return new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        Iterable<String> given = headers.getAll(AUTHORIZATION);
        List<String> authorization = new ArrayList<>();
        if (given != null) {
          given.forEach(authorization::add);
        }
        seen.add(new Seen(authorization, peer(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION))));
        return next.startCall(call, headers);
      }
    };
  }

  private static String peer(SSLSession session) {
    if (session == null) {
      return null;
    }
    try {
      return session.getPeerPrincipal().getName();
    } catch (SSLPeerUnverifiedException unverified) {
      return null;
    }
  }
}
