package dev.contextstore.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import dev.contextstore.v1.BatchCacheFilesRequest;
import dev.contextstore.v1.BatchCacheFilesResponse;
import dev.contextstore.v1.BatchGetFilesRequest;
import dev.contextstore.v1.BatchGetFilesResponse;
import dev.contextstore.v1.CacheAnalysisRequest;
import dev.contextstore.v1.CacheAnalysisResponse;
import dev.contextstore.v1.CacheFileRequest;
import dev.contextstore.v1.CacheFileResponse;
import dev.contextstore.v1.ContextStoreServiceGrpc;
import dev.contextstore.v1.FileResult;
import dev.contextstore.v1.GetFileRequest;
import dev.contextstore.v1.GetFileResponse;
import dev.contextstore.v1.InvalidateFileRequest;
import dev.contextstore.v1.InvalidateFileResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/** Compare-and-set writes and conditional reads: the requests sent, the errors decoded. */
class PreconditionTest {
  private static final byte[] ONE = sha256("one\n");
  private static final byte[] TWO = sha256("two\n");

  private final FakeService service = new FakeService();
  @AutoClose private final InProcessServer server = new InProcessServer(service);
  private final ContextStoreClient client = server.client().session("s1");

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException impossible) {
      throw new AssertionError(impossible);
    }
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  // -- the requests -----------------------------------------------------------------------

  @Test
  void ifVersionZeroIsSentAsAPresentZeroAndNoConditionSendsNothing() {
    client.cacheFile("a.py", utf8("one\n"), Precondition.ifAbsent());
    client.cacheFile("a.py", utf8("two\n"), Map.of("k", "v"), null, Precondition.ifSha256(ONE));
    client.cacheFile("a.py", utf8("two\n"), Precondition.matching(metadataOf("a.py", 3, ONE)));
    client.cacheFile("a.py", utf8("two\n"));
    client.cacheFile("a.py", utf8("two\n"), null);

    List<CacheFileRequest> requests = service.requests(CacheFileRequest.class);
    assertTrue(requests.get(0).hasIfVersion(), "ifAbsent(): if_version present...");
    assertEquals(0, requests.get(0).getIfVersion(), "...and 0");
    assertFalse(requests.get(0).hasIfSha256());
    assertFalse(requests.get(1).hasIfVersion());
    assertEquals(ByteString.copyFrom(ONE), requests.get(1).getIfSha256());
    assertEquals("v", requests.get(1).getLabelsOrThrow("k"));
    assertEquals(3, requests.get(2).getIfVersion());
    assertEquals(ByteString.copyFrom(ONE), requests.get(2).getIfSha256());
    for (CacheFileRequest none : requests.subList(3, 5)) {
      assertFalse(none.hasIfVersion(), "no condition: if_version absent");
      assertFalse(none.hasIfSha256(), "no condition: if_sha256 absent");
    }
    assertEquals("s1", requests.get(0).getSessionId());
  }

  @Test
  void batchItemsAnalysesAndInvalidationsCarryTheirPreconditions() {
    client.batchCacheFiles(
        List.of(
            FileUpload.of("n.py", utf8("one\n")).withPrecondition(Precondition.ifVersion(0)),
            new FileUpload(
                "a.py",
                utf8("two\n"),
                Map.of(),
                null,
                Precondition.ifVersion(3).andIfSha256(ONE)),
            FileUpload.of("b.py", new byte[0])));
    client.cacheAnalysis("a.py", "ast", utf8("tree"), Precondition.ifSha256(TWO));
    client.cacheAnalysis("a.py", "ast", utf8("tree"));
    client.invalidateFile("a.py", Precondition.ifAbsent());
    client.invalidateFile("a.py");

    List<dev.contextstore.v1.FileUpload> files =
        service.requests(BatchCacheFilesRequest.class).get(0).getFilesList();
    assertTrue(files.get(0).hasIfVersion());
    assertEquals(0, files.get(0).getIfVersion());
    assertFalse(files.get(0).hasIfSha256());
    assertEquals(3, files.get(1).getIfVersion());
    assertEquals(ByteString.copyFrom(ONE), files.get(1).getIfSha256());
    assertFalse(files.get(2).hasIfVersion());
    assertFalse(files.get(2).hasIfSha256());

    List<CacheAnalysisRequest> analyses = service.requests(CacheAnalysisRequest.class);
    assertFalse(analyses.get(0).hasIfVersion());
    assertEquals(ByteString.copyFrom(TWO), analyses.get(0).getIfSha256());
    assertFalse(analyses.get(1).hasIfVersion());
    assertFalse(analyses.get(1).hasIfSha256());

    List<InvalidateFileRequest> removals = service.requests(InvalidateFileRequest.class);
    assertTrue(removals.get(0).hasIfVersion());
    assertEquals(0, removals.get(0).getIfVersion());
    assertFalse(removals.get(1).hasIfVersion());
    assertFalse(removals.get(1).hasIfSha256());
  }

  @Test
  void theKnownDigestIsSentAndAnUnchangedFileComesBackWithoutContent() {
    CachedFile unchanged = client.getFile("a.py", ONE).orElseThrow();
    assertTrue(unchanged.unchanged());
    assertEquals(0, unchanged.content().length);
    assertArrayEquals(ONE, unchanged.metadata().sha256());
    CachedFile changed = client.getFile("a.py", TWO).orElseThrow();
    assertFalse(changed.unchanged());
    assertArrayEquals(utf8("one\n"), changed.content());
    assertFalse(client.getFile("a.py").orElseThrow().unchanged());

    List<GetFileRequest> requests = service.requests(GetFileRequest.class);
    assertEquals(ByteString.copyFrom(ONE), requests.get(0).getKnownSha256());
    assertEquals(ByteString.copyFrom(TWO), requests.get(1).getKnownSha256());
    assertFalse(requests.get(2).hasKnownSha256(), "no digest: known_sha256 absent");
  }

  @Test
  void batchGetFilesSendsTheKnownDigestsByPath() {
    List<Optional<CachedFile>> files =
        client.batchGetFiles(List.of("a.py", "gone.py", "c.py"), Map.of("a.py", ONE));
    assertTrue(files.get(0).orElseThrow().unchanged());
    assertEquals(0, files.get(0).orElseThrow().content().length);
    assertTrue(files.get(1).isEmpty());
    assertFalse(files.get(2).orElseThrow().unchanged());
    assertArrayEquals(utf8("one\n"), files.get(2).orElseThrow().content());
    client.batchGetFiles(List.of("c.py"));

    List<BatchGetFilesRequest> requests = service.requests(BatchGetFilesRequest.class);
    assertEquals(Map.of("a.py", ByteString.copyFrom(ONE)), requests.get(0).getKnownSha256Map());
    assertEquals(Map.of(), requests.get(1).getKnownSha256Map());
  }

  @Test
  void preconditionsCompareByValue() {
    assertEquals(Precondition.ifVersion(0), Precondition.ifAbsent());
    assertEquals(Precondition.ifSha256(ONE.clone()), Precondition.ifSha256(ONE));
    assertTrue(Precondition.none().isNone());
    assertFalse(Precondition.ifAbsent().isNone());
    assertEquals(
        Precondition.ifVersion(3).andIfSha256(ONE), Precondition.ifSha256(ONE).andIfVersion(3));
    assertEquals(
        Precondition.ifVersion(3).andIfSha256(ONE),
        Precondition.matching(metadataOf("a.py", 3, ONE)));
    assertEquals(Precondition.none(), FileUpload.of("a", new byte[0]).precondition());
  }

  // -- the errors -------------------------------------------------------------------------

  private static StatusRuntimeException failure(Code code, Message... details) {
    com.google.rpc.Status.Builder status =
        com.google.rpc.Status.newBuilder().setCode(code.getNumber()).setMessage("refused");
    for (Message detail : details) {
      status.addDetails(Any.pack(detail));
    }
    return StatusProto.toStatusRuntimeException(status.build());
  }

  private static ErrorInfo info(String reason, String domain, Map<String, String> metadata) {
    return ErrorInfo.newBuilder()
        .setReason(reason)
        .setDomain(domain)
        .putAllMetadata(metadata)
        .build();
  }

  private static ErrorInfo preconditionFailed(String path, String version, String sha256) {
    return info(
        "PRECONDITION_FAILED",
        "contextstore.dev",
        Map.of("path", path, "current_version", version, "current_sha256", sha256));
  }

  @Test
  void abortedWithAPreconditionFailedErrorInfoIsAPreconditionFailedException() {
    String hex = HexFormat.of().formatHex(TWO);
    ContextStoreException error =
        ContextStoreException.from(
            failure(Code.ABORTED, preconditionFailed("a.py", "9007199254740993", hex)));
    PreconditionFailedException failed = assertInstanceOf(PreconditionFailedException.class, error);
    assertEquals(Status.Code.ABORTED, failed.code());
    assertEquals("refused", failed.description());
    assertEquals("a.py", failed.path());
    assertEquals(9_007_199_254_740_993L, failed.currentVersion());
    assertArrayEquals(TWO, failed.currentSha256());
    assertEquals(hex, failed.currentSha256Hex());
    assertEquals(List.of(), failed.violations());
  }

  @Test
  void aPreconditionThatFoundNoFileReportsVersionZeroAndAnEmptyDigest() {
    PreconditionFailedException failed =
        assertInstanceOf(
            PreconditionFailedException.class,
            ContextStoreException.from(failure(Code.ABORTED, preconditionFailed("b.py", "0", ""))));
    assertEquals(0, failed.currentVersion());
    assertEquals(0, failed.currentSha256().length);
    assertEquals("b.py", failed.path());
  }

  @Test
  void otherFailuresStayPlainAndKeepTheirDetails() {
    List<StatusRuntimeException> others =
        List.of(
            failure(Code.ABORTED),
            failure(Code.ABORTED, info("SOMETHING_ELSE", "contextstore.dev", Map.of())),
            failure(Code.ABORTED, info("PRECONDITION_FAILED", "example.com", Map.of())),
            failure(Code.ABORTED, preconditionFailed("a.py", "x1", "")),
            failure(Code.ABORTED, preconditionFailed("a.py", "1", "abc")),
            failure(Code.FAILED_PRECONDITION, preconditionFailed("a.py", "1", "")));
    for (StatusRuntimeException other : others) {
      ContextStoreException error = ContextStoreException.from(other);
      assertFalse(error instanceof PreconditionFailedException, other.toString());
      assertEquals(other.getStatus().getCode(), error.code());
    }
    BadRequest badRequest =
        BadRequest.newBuilder()
            .addFieldViolations(
                BadRequest.FieldViolation.newBuilder().setField("if_sha256").setDescription("32"))
            .build();
    ContextStoreException invalid =
        ContextStoreException.from(
            failure(Code.INVALID_ARGUMENT, badRequest, preconditionFailed("a.py", "1", "")));
    assertFalse(invalid instanceof PreconditionFailedException);
    assertEquals("if_sha256", invalid.fieldViolations().get(0).subject());
  }

  @Test
  void aFailedPreconditionFromTheServerThrowsPreconditionFailedException() {
    service.abort = true;
    PreconditionFailedException failed =
        assertThrows(
            PreconditionFailedException.class,
            () -> client.cacheFile("a.py", utf8("two\n"), Precondition.ifAbsent()));
    assertEquals(4, failed.currentVersion());
    assertArrayEquals(ONE, failed.currentSha256());
    assertEquals("a.py", failed.path());
  }

  // -- the fake -----------------------------------------------------------------------------

  private static dev.contextstore.v1.FileMetadata protoMetadata(String path, byte[] sha256) {
    return dev.contextstore.v1.FileMetadata.newBuilder()
        .setPath(path)
        .setSize(4)
        .setVersion(3)
        .setSha256(ByteString.copyFrom(sha256))
        .build();
  }

  private static FileMetadata metadataOf(String path, long version, byte[] sha256) {
    return new FileMetadata(
        path, 4, sha256, Optional.empty(), java.time.Instant.EPOCH, Map.of(), version);
  }

  /** Records every request; files hold "one\n"; a known digest ONE is unchanged. */
  private static final class FakeService
      extends ContextStoreServiceGrpc.ContextStoreServiceImplBase {
    final List<Message> requests = new CopyOnWriteArrayList<>();
    volatile boolean abort;

    <T extends Message> List<T> requests(Class<T> type) {
      return requests.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private <R> void answer(Message request, R response, StreamObserver<R> observer) {
      requests.add(request);
      if (abort) {
        observer.onError(
            failure(
                Code.ABORTED,
                preconditionFailed("a.py", "4", HexFormat.of().formatHex(ONE))));
        return;
      }
      observer.onNext(response);
      observer.onCompleted();
    }

    @Override
    public void cacheFile(CacheFileRequest request, StreamObserver<CacheFileResponse> observer) {
      CacheFileResponse response =
          CacheFileResponse.newBuilder().setMetadata(protoMetadata(request.getPath(), ONE)).build();
      answer(request, response, observer);
    }

    @Override
    public void batchCacheFiles(
        BatchCacheFilesRequest request, StreamObserver<BatchCacheFilesResponse> observer) {
      BatchCacheFilesResponse.Builder response = BatchCacheFilesResponse.newBuilder();
      request.getFilesList().forEach(f -> response.addMetadata(protoMetadata(f.getPath(), ONE)));
      answer(request, response.build(), observer);
    }

    @Override
    public void cacheAnalysis(
        CacheAnalysisRequest request, StreamObserver<CacheAnalysisResponse> observer) {
      answer(request, CacheAnalysisResponse.getDefaultInstance(), observer);
    }

    @Override
    public void invalidateFile(
        InvalidateFileRequest request, StreamObserver<InvalidateFileResponse> observer) {
      answer(request, InvalidateFileResponse.getDefaultInstance(), observer);
    }

    @Override
    public void getFile(GetFileRequest request, StreamObserver<GetFileResponse> observer) {
      boolean unchanged = request.getKnownSha256().equals(ByteString.copyFrom(ONE));
      GetFileResponse response =
          GetFileResponse.newBuilder()
              .setContent(unchanged ? ByteString.EMPTY : ByteString.copyFromUtf8("one\n"))
              .setMetadata(protoMetadata(request.getPath(), ONE))
              .setUnchanged(unchanged)
              .build();
      answer(request, response, observer);
    }

    @Override
    public void batchGetFiles(
        BatchGetFilesRequest request, StreamObserver<BatchGetFilesResponse> observer) {
      BatchGetFilesResponse.Builder response = BatchGetFilesResponse.newBuilder();
      for (String path : request.getPathsList()) {
        if (path.equals("gone.py")) {
          response.addFiles(FileResult.newBuilder().setPath(path));
          continue;
        }
        boolean unchanged =
            request.getKnownSha256OrDefault(path, ByteString.EMPTY).equals(ByteString.copyFrom(ONE));
        response.addFiles(
            FileResult.newBuilder()
                .setPath(path)
                .setFound(true)
                .setContent(unchanged ? ByteString.EMPTY : ByteString.copyFromUtf8("one\n"))
                .setMetadata(protoMetadata(path, ONE))
                .setUnchanged(unchanged));
      }
      answer(request, response.build(), observer);
    }
  }
}
