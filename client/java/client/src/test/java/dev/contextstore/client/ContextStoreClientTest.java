package dev.contextstore.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Message;
import dev.contextstore.v1.CacheFileRequest;
import dev.contextstore.v1.CacheFileResponse;
import dev.contextstore.v1.ContextStoreServiceGrpc;
import dev.contextstore.v1.GetServerInfoRequest;
import dev.contextstore.v1.GetServerInfoResponse;
import dev.contextstore.v1.GetStatsRequest;
import dev.contextstore.v1.GetStatsResponse;
import dev.contextstore.v1.GetStoreStatsRequest;
import dev.contextstore.v1.GetStoreStatsResponse;
import dev.contextstore.v1.InvalidateAnalysisRequest;
import dev.contextstore.v1.InvalidateAnalysisResponse;
import dev.contextstore.v1.InvalidatePrefixRequest;
import dev.contextstore.v1.InvalidatePrefixResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/** The client against an in-process fake server: which request each method sends. */
class ContextStoreClientTest {
  private final FakeService service = new FakeService();
  @AutoClose private final InProcessServer server = new InProcessServer(service);
  private final ContextStoreClient client = server.client();

  @Test
  void theRetriedMethodsAreTheContractsReads() {
    assertEquals(
        Set.of(
            "GetFile",
            "GetMetadata",
            "GetAnalysis",
            "BatchGetFiles",
            "ListFiles",
            "GetStats",
            "GetStoreStats",
            "GetServerInfo",
            "Watch"), // retried only until the server answers: resuming is WatchStream's
        Set.copyOf(Channels.RETRIED_METHODS));
    assertEquals(9, Channels.RETRIED_METHODS.size(), "no method twice");
  }

  @Test
  void theServiceConfigNamesExactlyTheRetriedMethods() {
    List<?> methodConfig = (List<?>) Channels.serviceConfig().get("methodConfig");
    assertEquals(1, methodConfig.size());
    Map<?, ?> config = (Map<?, ?>) methodConfig.get(0);
    Set<Object> methods = new HashSet<>();
    for (Object name : (List<?>) config.get("name")) {
      Map<?, ?> method = (Map<?, ?>) name;
      assertEquals(ContextStoreServiceGrpc.SERVICE_NAME, method.get("service"));
      methods.add(method.get("method"));
    }
    assertEquals(Set.copyOf(Channels.RETRIED_METHODS), methods);
    Map<?, ?> retry = (Map<?, ?>) config.get("retryPolicy");
    assertEquals(List.of("UNAVAILABLE"), retry.get("retryableStatusCodes"));
  }

  @Test
  void aReadIsRetriedOnUnavailable() {
    service.unavailableFirst.set(1);
    assertEquals(3, client.stats().files());
    assertEquals(2, service.requests.size(), "one failed attempt, one retry");
  }

  @Test
  void aWriteIsNotRetried() {
    service.unavailableFirst.set(1);
    ContextStoreException error =
        assertThrows(ContextStoreException.class, () -> client.cacheFile("a", new byte[0]));
    assertEquals(Status.Code.UNAVAILABLE, error.code());
    assertEquals(1, service.requests.size());
  }

  @Test
  void statsOfTheClientIsTheGlobalNamespace() {
    assertEquals(new Stats(3, 2, 100, 1, 5, 4, 0, 0, 0), client.stats()); // heldBytes 0
    GetStatsRequest request = (GetStatsRequest) service.requests.get(0);
    assertFalse(request.hasSessionId(), "no session_id: the global namespace");
  }

  @Test
  void statsOfASessionHandleIsThatSession() {
    client.session("s1").stats();
    GetStatsRequest request = (GetStatsRequest) service.requests.get(0);
    assertEquals("s1", request.getSessionId());
  }

  @Test
  void storeStatsIsTheWholeStore() {
    assertEquals(
        new Stats(30, 20, 1000, 7, 50, 40, 1, 2, 600), client.session("s1").storeStats());
    assertTrue(service.requests.get(0) instanceof GetStoreStatsRequest);
  }

  @Test
  void statsWithoutHeldBytesHoldZero() {
    assertEquals(new Stats(1, 2, 3, 4, 5, 6, 7, 8, 0), new Stats(1, 2, 3, 4, 5, 6, 7, 8));
  }

  @Test
  void serverInfoCarriesTheBackendPropertiesAndLimits() {
    ServerInfo info = client.serverInfo();
    assertEquals("memory", info.backend());
    assertEquals(
        Map.of("stripes", "64", "eviction", "exact store-wide LRU"), info.backendProperties());
    assertEquals(Duration.ofMinutes(90), info.limits().sessionTtl());
    assertEquals(3, info.limits().maxConcurrentRpcs());
    assertEquals(16_777_216, info.limits().maxInflightResponseBytes());
    assertEquals(Duration.ofMillis(7500), info.limits().receiveTimeout());
    assertEquals(1024, info.limits().maxWatchers());
    assertEquals(Duration.ofMillis(1500), info.limits().watchProgressInterval());
    assertEquals(10_000, info.limits().watchHistoryRevisions());
  }

  @Test
  void invalidateAnalysisNamesOneTypeAndInvalidateAnalysesNone() {
    assertEquals(1, client.session("s1").invalidateAnalysis("a.py", "ast"));
    assertEquals(1, client.invalidateAnalyses("a.py"));
    InvalidateAnalysisRequest one = (InvalidateAnalysisRequest) service.requests.get(0);
    InvalidateAnalysisRequest every = (InvalidateAnalysisRequest) service.requests.get(1);
    assertEquals("ast", one.getAnalysisType());
    assertEquals("s1", one.getSessionId());
    assertFalse(every.hasAnalysisType(), "no analysis_type: every type");
    assertFalse(every.hasSessionId());
  }

  @Test
  void invalidatePrefixSendsThePrefixInTheHandlesNamespace() {
    assertEquals(new Removed(2, 3, 17), client.session("s1").invalidatePrefix("a/"));
    assertEquals(new Removed(2, 3, 17), client.invalidatePrefix("b/"));
    InvalidatePrefixRequest session = (InvalidatePrefixRequest) service.requests.get(0);
    InvalidatePrefixRequest global = (InvalidatePrefixRequest) service.requests.get(1);
    assertEquals("s1", session.getSessionId());
    assertEquals("a/", session.getPathPrefix());
    assertFalse(global.hasSessionId(), "no session_id: the global namespace");
    assertEquals("b/", global.getPathPrefix());
  }

  @Test
  void invalidatePrefixIsNotRetried() {
    service.unavailableFirst.set(1);
    ContextStoreException error =
        assertThrows(ContextStoreException.class, () -> client.invalidatePrefix("a/"));
    assertEquals(Status.Code.UNAVAILABLE, error.code());
    assertEquals(1, service.requests.size());
  }

  /** Answers fixed values and records every request it receives. */
  private static final class FakeService
      extends ContextStoreServiceGrpc.ContextStoreServiceImplBase {
    final List<Message> requests = new CopyOnWriteArrayList<>();
    final AtomicInteger unavailableFirst = new AtomicInteger();

    private <R> void answer(Message request, R response, StreamObserver<R> observer) {
      requests.add(request);
      if (unavailableFirst.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        observer.onError(Status.UNAVAILABLE.withDescription("try again").asRuntimeException());
        return;
      }
      observer.onNext(response);
      observer.onCompleted();
    }

    @Override
    public void cacheFile(CacheFileRequest request, StreamObserver<CacheFileResponse> observer) {
      answer(request, CacheFileResponse.getDefaultInstance(), observer);
    }

    @Override
    public void getStats(GetStatsRequest request, StreamObserver<GetStatsResponse> observer) {
      GetStatsResponse response =
          GetStatsResponse.newBuilder()
              .setFiles(3)
              .setAnalyses(2)
              .setBytes(100)
              .setSessions(1)
              .setHits(5)
              .setMisses(4)
              .build();
      answer(request, response, observer);
    }

    @Override
    public void getStoreStats(
        GetStoreStatsRequest request, StreamObserver<GetStoreStatsResponse> observer) {
      GetStoreStatsResponse response =
          GetStoreStatsResponse.newBuilder()
              .setFiles(30)
              .setAnalyses(20)
              .setBytes(1000)
              .setSessions(7)
              .setHits(50)
              .setMisses(40)
              .setEvictions(1)
              .setExpirations(2)
              .setHeldBytes(600)
              .build();
      answer(request, response, observer);
    }

    @Override
    public void getServerInfo(
        GetServerInfoRequest request, StreamObserver<GetServerInfoResponse> observer) {
      GetServerInfoResponse response =
          GetServerInfoResponse.newBuilder()
              .setVersion("0.2.0")
              .setBackend("memory")
              .putBackendProperties("stripes", "64")
              .putBackendProperties("eviction", "exact store-wide LRU")
              .setLimits(
                  dev.contextstore.v1.Limits.newBuilder()
                      .setSessionTtl(com.google.protobuf.Duration.newBuilder().setSeconds(5400))
                      .setMaxConcurrentRpcs(3)
                      .setMaxInflightResponseBytes(16_777_216)
                      .setReceiveTimeout(
                          com.google.protobuf.Duration.newBuilder()
                              .setSeconds(7)
                              .setNanos(500_000_000))
                      .setMaxWatchers(1024)
                      .setWatchProgressInterval(
                          com.google.protobuf.Duration.newBuilder()
                              .setSeconds(1)
                              .setNanos(500_000_000))
                      .setWatchHistoryRevisions(10_000))
              .build();
      answer(request, response, observer);
    }

    @Override
    public void invalidateAnalysis(
        InvalidateAnalysisRequest request, StreamObserver<InvalidateAnalysisResponse> observer) {
      InvalidateAnalysisResponse response =
          InvalidateAnalysisResponse.newBuilder().setAnalysesRemoved(1).build();
      answer(request, response, observer);
    }

    @Override
    public void invalidatePrefix(
        InvalidatePrefixRequest request, StreamObserver<InvalidatePrefixResponse> observer) {
      InvalidatePrefixResponse response =
          InvalidatePrefixResponse.newBuilder()
              .setFilesRemoved(2)
              .setAnalysesRemoved(3)
              .setRevision(17)
              .build();
      answer(request, response, observer);
    }
  }
}
