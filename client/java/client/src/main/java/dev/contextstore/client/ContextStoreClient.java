package dev.contextstore.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.MethodOptions.IdempotencyLevel;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.Timestamp;
import dev.contextstore.v1.BatchCacheFilesRequest;
import dev.contextstore.v1.BatchGetFilesRequest;
import dev.contextstore.v1.CacheAnalysisRequest;
import dev.contextstore.v1.CacheFileRequest;
import dev.contextstore.v1.ClearSessionRequest;
import dev.contextstore.v1.ContextStoreProto;
import dev.contextstore.v1.ContextStoreServiceGrpc;
import dev.contextstore.v1.ContextStoreServiceGrpc.ContextStoreServiceBlockingStub;
import dev.contextstore.v1.FileResult;
import dev.contextstore.v1.GetAnalysisRequest;
import dev.contextstore.v1.GetAnalysisResponse;
import dev.contextstore.v1.GetFileRequest;
import dev.contextstore.v1.GetFileResponse;
import dev.contextstore.v1.GetMetadataRequest;
import dev.contextstore.v1.GetServerInfoRequest;
import dev.contextstore.v1.GetServerInfoResponse;
import dev.contextstore.v1.GetStatsRequest;
import dev.contextstore.v1.GetStatsResponse;
import dev.contextstore.v1.GetStoreStatsRequest;
import dev.contextstore.v1.GetStoreStatsResponse;
import dev.contextstore.v1.InvalidateAnalysisRequest;
import dev.contextstore.v1.InvalidateFileRequest;
import dev.contextstore.v1.InvalidateFileResponse;
import dev.contextstore.v1.InvalidatePrefixRequest;
import dev.contextstore.v1.InvalidatePrefixResponse;
import dev.contextstore.v1.ListFilesRequest;
import io.grpc.CallCredentials;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A blocking client for contextstore over one channel.
 *
 * <p>The client addresses the global namespace; {@link #session(String)} returns a handle bound
 * to one session that shares the channel. Every call has a deadline ({@link #DEFAULT_TIMEOUT}
 * unless {@link #withTimeout(Duration)} says otherwise); a read of a missing entry returns
 * {@link Optional#empty()}; every other failure throws {@link ContextStoreException} (a failed
 * {@link Precondition} its subclass {@link PreconditionFailedException}). Reads are
 * retried on UNAVAILABLE through the channel's service config, which also spreads calls
 * round_robin over every address of the target (several servers may be listed: {@link
 * #ContextStoreClient(String)}). Close the client (not its handles) to release the channel.
 *
 * <p>{@link #builder(String)} adds TLS ({@link Tls}) and a bearer token: {@code
 * ContextStoreClient.builder(target).tls(Tls.trusting(ca)).token(token).build()}. Every client
 * this class connects sends a token when it has one, given by {@link Builder#token(String)} or
 * else read from the environment variable {@code CONTEXTSTORE_TOKEN}, as {@code authorization:
 * Bearer <token>} on every call.
 */
public final class ContextStoreClient implements AutoCloseable {
  /** Where {@code contextstore serve} listens by default. */
  public static final String DEFAULT_TARGET = "127.0.0.1:50051";

  /** The deadline of every call unless told otherwise. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  /** The server's default message limit: 16 MiB of content plus 1 MiB of headroom. */
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 17 << 20;

  /**
   * The methods the channel retries on UNAVAILABLE: those the contract marks {@code
   * idempotency_level = NO_SIDE_EFFECTS}, read from the generated descriptors so that a new read
   * RPC is retried without anyone editing a list.
   */
  static final List<String> RETRIED_METHODS = retriedMethods();

  private final Channel channel;
  private final ManagedChannel owned; // null for handles and borrowed channels
  private final ContextStoreServiceBlockingStub stub;
  private final Duration timeout;
  private final String sessionId; // null: the global namespace
  private final CallCredentials token; // null: no token

  private ContextStoreClient(
      Channel channel,
      ManagedChannel owned,
      Duration timeout,
      String sessionId,
      CallCredentials token) {
    this.channel = channel;
    this.owned = owned;
    ContextStoreServiceBlockingStub plain = ContextStoreServiceGrpc.newBlockingStub(channel);
    this.stub = token == null ? plain : plain.withCallCredentials(token);
    this.timeout = Objects.requireNonNull(timeout, "timeout");
    this.sessionId = sessionId;
    this.token = token;
  }

  /**
   * Connects to {@code target} in plaintext (the token, if any, from {@code CONTEXTSTORE_TOKEN}).
   * {@code target} is one server ({@code
   * "127.0.0.1:50051"}, {@code "localhost:50051"}), several ({@code
   * "127.0.0.1:50051,127.0.0.1:50052"}, {@code "[::1]:50051,10.0.0.2:50051"}: IP addresses with
   * their ports), or a URI grpc-java resolves ({@code "dns:///name:50051"}, every address of the
   * name used). Calls are spread over every address (round_robin).
   *
   * @throws IllegalArgumentException for a list naming a host or an address without a port: a
   *     host name with several addresses is one {@code dns:///} target
   */
  public ContextStoreClient(String target) {
    this(target, DEFAULT_TIMEOUT, DEFAULT_MAX_MESSAGE_BYTES);
  }

  /**
   * Connects to {@code target} (the forms of {@link #ContextStoreClient(String)}) in plaintext,
   * with a default deadline and the largest response accepted.
   */
  public ContextStoreClient(String target, Duration timeout, int maxMessageBytes) {
    this(builder(target).timeout(timeout).maxMessageBytes(maxMessageBytes));
  }

  private ContextStoreClient(Builder settings) {
    this(settings.newChannel(), settings.timeout, settings.callCredentials());
  }

  private ContextStoreClient(ManagedChannel channel, Duration timeout, CallCredentials token) {
    this(channel, channel, timeout, null, token);
  }

  /**
   * Wraps a channel the caller built (TLS, interceptors...) and keeps owning; it sends no token
   * of its own.
   */
  public static ContextStoreClient of(Channel channel, Duration timeout) {
    return new ContextStoreClient(channel, null, timeout, null, null);
  }

  /** A builder of a client of {@code target} (the forms of {@link #ContextStoreClient(String)}). */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /**
   * The settings of a client: its deadline, message limit, TLS and token. Plaintext unless
   * {@link #tls(Tls)} is given; the token is {@link #token(String)}'s, or else {@code
   * CONTEXTSTORE_TOKEN}'s; an empty one sends nothing.
   */
  public static final class Builder {
    private final String target;
    private Duration timeout = DEFAULT_TIMEOUT;
    private int maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
    private Tls tls; // null: plaintext
    private String token; // null: the environment's
    private Function<String, String> environment = System::getenv;

    private Builder(String target) {
      this.target = Objects.requireNonNull(target, "target");
    }

    /** The deadline of every call ({@link #DEFAULT_TIMEOUT} unless given). */
    public Builder timeout(Duration timeout) {
      this.timeout = Objects.requireNonNull(timeout, "timeout");
      return this;
    }

    /** The largest message sent or received ({@link #DEFAULT_MAX_MESSAGE_BYTES} unless given). */
    public Builder maxMessageBytes(int maxMessageBytes) {
      this.maxMessageBytes = maxMessageBytes;
      return this;
    }

    /** Connects over TLS with these settings instead of plaintext. */
    public Builder tls(Tls tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * The token sent on every call as {@code authorization: Bearer <token>} (over TLS, or on a
     * plaintext channel, which only makes sense on loopback); empty: none, whatever the
     * environment says. Without this call, {@code CONTEXTSTORE_TOKEN} is read.
     */
    public Builder token(String token) {
      this.token = Objects.requireNonNull(token, "token");
      return this;
    }

    /** Where {@code CONTEXTSTORE_TOKEN} is read (the process environment): for tests. */
    Builder environment(Function<String, String> environment) {
      this.environment = environment;
      return this;
    }

    /**
     * Opens the channel.
     *
     * @throws IllegalArgumentException for a target list it cannot take
     * @throws java.io.UncheckedIOException for a TLS file that cannot be read
     */
    public ContextStoreClient build() {
      return new ContextStoreClient(this);
    }

    private ManagedChannel newChannel() {
      ChannelCredentials credentials =
          tls == null ? InsecureChannelCredentials.create() : tls.credentials();
      return configure(Targets.channelBuilder(target, credentials), maxMessageBytes).build();
    }

    /** The token's call credentials, or {@code null} for no token. */
    private CallCredentials callCredentials() {
      String chosen = token != null ? token : environment.apply(BearerToken.ENV);
      return chosen == null || chosen.isEmpty() ? null : new BearerToken(chosen);
    }
  }

  /**
   * What every channel this client opens has: the response limit, calls spread over every
   * address and retried reads.
   */
  static ManagedChannelBuilder<?> configure(ManagedChannelBuilder<?> builder, int maxMessageBytes) {
    return builder
        .maxInboundMessageSize(maxMessageBytes)
        .defaultServiceConfig(serviceConfig())
        .enableRetry();
  }

  private static List<String> retriedMethods() {
    ServiceDescriptor service =
        ContextStoreProto.getDescriptor().getServices().stream()
            .filter(s -> s.getFullName().equals(ContextStoreServiceGrpc.SERVICE_NAME))
            .findFirst()
            .orElseThrow();
    return service.getMethods().stream()
        .filter(m -> m.getOptions().getIdempotencyLevel() == IdempotencyLevel.NO_SIDE_EFFECTS)
        .map(MethodDescriptor::getName)
        .toList();
  }

  /**
   * Calls go round_robin over every address the target resolves to (one HTTP/2 connection would
   * pin them to one server); reads have no side effects, so the channel retries them on
   * UNAVAILABLE.
   */
  static Map<String, Object> serviceConfig() {
    List<Map<String, Object>> names = new ArrayList<>();
    for (String method : RETRIED_METHODS) {
      names.add(Map.of("service", ContextStoreServiceGrpc.SERVICE_NAME, "method", method));
    }
    Map<String, Object> retry =
        Map.of(
            "maxAttempts", 4.0,
            "initialBackoff", "0.05s",
            "maxBackoff", "1s",
            "backoffMultiplier", 2.0,
            "retryableStatusCodes", List.of("UNAVAILABLE"));
    return Map.of(
        "loadBalancingConfig", List.of(Map.of("round_robin", Map.of())),
        "methodConfig", List.of(Map.of("name", names, "retryPolicy", retry)));
  }

  /** A handle bound to {@code sessionId} ({@code null} or empty: global), sharing the channel. */
  public ContextStoreClient session(String sessionId) {
    String bound = sessionId == null || sessionId.isEmpty() ? null : sessionId;
    return new ContextStoreClient(channel, null, timeout, bound, token);
  }

  /** A handle with another per-call deadline, sharing the channel and the session. */
  public ContextStoreClient withTimeout(Duration timeout) {
    return new ContextStoreClient(channel, null, timeout, sessionId, token);
  }

  /** The bound session, or empty for the global namespace. */
  public Optional<String> sessionId() {
    return Optional.ofNullable(sessionId);
  }

  /** The per-call deadline. */
  public Duration timeout() {
    return timeout;
  }

  /**
   * Runs one call on the generated stub with this handle's deadline, translating a failure into
   * {@link ContextStoreException}. The typed methods below are built on it; it is public for
   * requests they do not cover.
   */
  public <R> R call(Function<ContextStoreServiceBlockingStub, R> rpc) {
    try {
      return rpc.apply(stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS));
    } catch (StatusRuntimeException error) {
      throw ContextStoreException.from(error);
    }
  }

  private <R> Optional<R> read(Function<ContextStoreServiceBlockingStub, R> rpc) {
    try {
      return Optional.of(call(rpc));
    } catch (ContextStoreException error) {
      if (error.code() == Status.Code.NOT_FOUND) {
        return Optional.empty();
      }
      throw error;
    }
  }

  // -- files ------------------------------------------------------------------

  /** Stores or replaces a file; a changed digest drops the path's analyses. */
  public FileMetadata cacheFile(String path, byte[] content) {
    return cacheFile(path, content, Map.of(), null, Precondition.none());
  }

  /**
   * Stores a file only over the one {@code precondition} names ({@link Precondition#ifAbsent()}:
   * only where none is).
   *
   * @throws PreconditionFailedException when it does not hold; nothing was stored
   */
  public FileMetadata cacheFile(String path, byte[] content, Precondition precondition) {
    return cacheFile(path, content, Map.of(), null, precondition);
  }

  /** Stores or replaces a file with labels and a modification time ({@code null}: none). */
  public FileMetadata cacheFile(
      String path, byte[] content, Map<String, String> labels, Instant mtime) {
    return cacheFile(path, content, labels, mtime, Precondition.none());
  }

  /**
   * Stores a file with labels and a modification time ({@code null}: none), only over the one
   * {@code precondition} names ({@code null}: none).
   *
   * @throws PreconditionFailedException when it does not hold; nothing was stored
   */
  public FileMetadata cacheFile(
      String path,
      byte[] content,
      Map<String, String> labels,
      Instant mtime,
      Precondition precondition) {
    CacheFileRequest.Builder request =
        CacheFileRequest.newBuilder()
            .setPath(path)
            .setContent(ByteString.copyFrom(content))
            .putAllLabels(labels);
    if (mtime != null) {
      request.setMtime(timestamp(mtime));
    }
    Precondition.apply(precondition, request::setIfVersion, request::setIfSha256);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return metadata(call(s -> s.cacheFile(request.build())).getMetadata());
  }

  /** A file's content and metadata, or empty when it is not cached. */
  public Optional<CachedFile> getFile(String path) {
    return getFile(path, null);
  }

  /**
   * A file, or empty when it is not cached; when {@code knownSha256} (the digest of the content
   * held; {@code null}: none) is still its digest, its metadata without content, {@link
   * CachedFile#unchanged()} true.
   */
  public Optional<CachedFile> getFile(String path, byte[] knownSha256) {
    GetFileRequest.Builder request = GetFileRequest.newBuilder().setPath(path);
    if (knownSha256 != null) {
      request.setKnownSha256(ByteString.copyFrom(knownSha256));
    }
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return read(s -> s.getFile(request.build())).map(ContextStoreClient::file);
  }

  /** A file's metadata, or empty when it is not cached. */
  public Optional<FileMetadata> getMetadata(String path) {
    GetMetadataRequest.Builder request = GetMetadataRequest.newBuilder().setPath(path);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return read(s -> s.getMetadata(request.build())).map(r -> metadata(r.getMetadata()));
  }

  /** One result per path, in order, read as one snapshot; empty for a miss. */
  public List<Optional<CachedFile>> batchGetFiles(List<String> paths) {
    return batchGetFiles(paths, Map.of());
  }

  /**
   * One result per path, in order, read as one snapshot; empty for a miss. A path whose entry in
   * {@code knownSha256} (path to the digest of the content held) is still its digest comes back
   * {@link CachedFile#unchanged()}, without content.
   */
  public List<Optional<CachedFile>> batchGetFiles(
      List<String> paths, Map<String, byte[]> knownSha256) {
    BatchGetFilesRequest.Builder request = BatchGetFilesRequest.newBuilder().addAllPaths(paths);
    knownSha256.forEach((path, digest) -> request.putKnownSha256(path, ByteString.copyFrom(digest)));
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    List<Optional<CachedFile>> files = new ArrayList<>();
    for (FileResult result : call(s -> s.batchGetFiles(request.build())).getFilesList()) {
      files.add(
          result.getFound()
              ? Optional.of(
                  new CachedFile(
                      result.getContent().toByteArray(),
                      metadata(result.getMetadata()),
                      result.getUnchanged()))
              : Optional.empty());
    }
    return files;
  }

  /**
   * Stores every file or none: one invalid item, or one failed {@link FileUpload#precondition()}
   * ({@link PreconditionFailedException}, naming the item's path), fails the whole call.
   */
  public List<FileMetadata> batchCacheFiles(List<FileUpload> files) {
    BatchCacheFilesRequest.Builder request = BatchCacheFilesRequest.newBuilder();
    for (FileUpload file : files) {
      dev.contextstore.v1.FileUpload.Builder upload =
          dev.contextstore.v1.FileUpload.newBuilder()
              .setPath(file.path())
              .setContent(ByteString.copyFrom(file.content()))
              .putAllLabels(file.labels());
      if (file.mtime() != null) {
        upload.setMtime(timestamp(file.mtime()));
      }
      Precondition.apply(file.precondition(), upload::setIfVersion, upload::setIfSha256);
      request.addFiles(upload);
    }
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return call(s -> s.batchCacheFiles(request.build())).getMetadataList().stream()
        .map(ContextStoreClient::metadata)
        .toList();
  }

  // -- listing ----------------------------------------------------------------

  /** Every file of this namespace, in path order, fetched a page at a time as it is iterated. */
  public FileListing listFiles() {
    return listFiles(ListFilesOptions.all());
  }

  /** Every file of this namespace whose path starts with {@code pathPrefix}, in path order. */
  public FileListing listFiles(String pathPrefix) {
    return listFiles(ListFilesOptions.prefix(pathPrefix));
  }

  /**
   * Every file of this namespace that {@code options} selects, in path order: pages of at most
   * {@code options.pageSize()} files, each fetched (with this handle's deadline) when iteration
   * reaches it, until the last. Nothing is fetched before iteration starts.
   */
  public FileListing listFiles(ListFilesOptions options) {
    Objects.requireNonNull(options, "options");
    return new FileListing(pageToken -> listFilesPage(options, pageToken));
  }

  /**
   * One page of the files {@code options} selects, for callers that keep the token: {@code
   * pageToken} is the previous page's {@link FilesPage#nextPageToken()}, with the same options
   * ({@code null} or empty: the first page).
   */
  public FilesPage listFilesPage(ListFilesOptions options, String pageToken) {
    ListFilesRequest request = FileListing.request(sessionId, options, pageToken);
    return FileListing.page(call(s -> s.listFiles(request)));
  }

  // -- analyses ---------------------------------------------------------------

  /** Stores an analysis result; returns when it was cached. */
  public Instant cacheAnalysis(String path, String analysisType, byte[] result) {
    return cacheAnalysis(path, analysisType, result, Precondition.none());
  }

  /**
   * Stores an analysis result only if the file at the path is the one {@code precondition}
   * names ({@code null}: none); returns when it was cached.
   *
   * @throws PreconditionFailedException when it does not hold; nothing was stored
   */
  public Instant cacheAnalysis(
      String path, String analysisType, byte[] result, Precondition precondition) {
    CacheAnalysisRequest.Builder request =
        CacheAnalysisRequest.newBuilder()
            .setPath(path)
            .setAnalysisType(analysisType)
            .setResult(ByteString.copyFrom(result));
    Precondition.apply(precondition, request::setIfVersion, request::setIfSha256);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return instant(call(s -> s.cacheAnalysis(request.build())).getCachedAt());
  }

  /** An analysis result, or empty when it is not cached (or was dropped as stale). */
  public Optional<CachedAnalysis> getAnalysis(String path, String analysisType) {
    GetAnalysisRequest.Builder request =
        GetAnalysisRequest.newBuilder().setPath(path).setAnalysisType(analysisType);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return read(s -> s.getAnalysis(request.build())).map(ContextStoreClient::analysis);
  }

  // -- invalidation -----------------------------------------------------------

  /** Removes a path's file and analyses from this namespace. */
  public Removed invalidateFile(String path) {
    return invalidateFile(path, Precondition.none());
  }

  /**
   * Removes a path's file and analyses only if the file is the one {@code precondition} names
   * ({@code null}: none).
   *
   * @throws PreconditionFailedException when it does not hold; nothing was removed
   */
  public Removed invalidateFile(String path, Precondition precondition) {
    InvalidateFileRequest.Builder request = InvalidateFileRequest.newBuilder().setPath(path);
    Precondition.apply(precondition, request::setIfVersion, request::setIfSha256);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    InvalidateFileResponse response = call(s -> s.invalidateFile(request.build()));
    return new Removed(response.getFilesRemoved(), response.getAnalysesRemoved());
  }

  /** Removes every analysis of a path; returns how many. */
  public long invalidateAnalyses(String path) {
    return invalidateAnalysis(path, Optional.empty());
  }

  /** Removes one analysis type of a path; returns how many (0 or 1). */
  public long invalidateAnalysis(String path, String analysisType) {
    return invalidateAnalysis(path, Optional.of(analysisType));
  }

  private long invalidateAnalysis(String path, Optional<String> analysisType) {
    InvalidateAnalysisRequest.Builder request =
        InvalidateAnalysisRequest.newBuilder().setPath(path);
    analysisType.ifPresent(request::setAnalysisType);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return call(s -> s.invalidateAnalysis(request.build())).getAnalysesRemoved();
  }

  /**
   * Removes every file and analysis of this namespace whose path starts with {@code pathPrefix},
   * atomically, and returns how many (an empty prefix is refused with INVALID_ARGUMENT: {@link
   * #clearSession()} removes a whole namespace).
   */
  public Removed invalidatePrefix(String pathPrefix) {
    InvalidatePrefixRequest.Builder request =
        InvalidatePrefixRequest.newBuilder().setPathPrefix(pathPrefix);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    InvalidatePrefixResponse response = call(s -> s.invalidatePrefix(request.build()));
    return new Removed(response.getFilesRemoved(), response.getAnalysesRemoved());
  }

  /** Removes everything of this namespace, atomically. */
  public Removed clearSession() {
    ClearSessionRequest.Builder request = ClearSessionRequest.newBuilder();
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    var response = call(s -> s.clearSession(request.build()));
    return new Removed(response.getFilesRemoved(), response.getAnalysesRemoved());
  }

  // -- introspection ----------------------------------------------------------

  /**
   * Counters of this handle's namespace: its session, or the global namespace on the client
   * itself.
   */
  public Stats stats() {
    GetStatsRequest.Builder request = GetStatsRequest.newBuilder();
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return stats(call(s -> s.getStats(request.build())));
  }

  /** Counters of the whole store, every namespace included. */
  public Stats storeStats() {
    return storeStats(call(s -> s.getStoreStats(GetStoreStatsRequest.getDefaultInstance())));
  }

  /** Version, backend, the backend's own properties and every limit the server enforces. */
  public ServerInfo serverInfo() {
    GetServerInfoResponse r = call(s -> s.getServerInfo(GetServerInfoRequest.getDefaultInstance()));
    dev.contextstore.v1.Limits l = r.getLimits();
    Limits limits =
        new Limits(
            l.getMaxContentBytes(),
            l.getMaxMessageBytes(),
            l.getMaxBatchItems(),
            l.getMaxPathBytes(),
            l.getMaxSessionIdBytes(),
            l.getMaxAnalysisTypeBytes(),
            l.getMaxLabels(),
            l.getMaxLabelKeyBytes(),
            l.getMaxLabelValueBytes(),
            l.getTotalBytes(),
            l.getSessionBytes(),
            l.getSessionEntries(),
            duration(l.getSessionTtl()),
            l.getMaxConcurrentRpcs(),
            l.getMaxInflightResponseBytes(),
            duration(l.getReceiveTimeout()));
    return new ServerInfo(r.getVersion(), r.getBackend(), r.getBackendPropertiesMap(), limits);
  }

  /** Closes the channel this client opened; a no-op on handles and borrowed channels. */
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

  // -- conversions ------------------------------------------------------------

  private static Instant instant(Timestamp ts) {
    return Instant.ofEpochSecond(ts.getSeconds(), ts.getNanos());
  }

  private static Timestamp timestamp(Instant when) {
    return Timestamp.newBuilder()
        .setSeconds(when.getEpochSecond())
        .setNanos(when.getNano())
        .build();
  }

  private static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }

  static FileMetadata metadata(dev.contextstore.v1.FileMetadata m) {
    return new FileMetadata(
        m.getPath(),
        m.getSize(),
        m.getSha256().toByteArray(),
        m.hasMtime() ? Optional.of(instant(m.getMtime())) : Optional.empty(),
        instant(m.getCachedAt()),
        Map.copyOf(m.getLabelsMap()),
        m.getVersion());
  }

  private static CachedFile file(GetFileResponse r) {
    return new CachedFile(r.getContent().toByteArray(), metadata(r.getMetadata()), r.getUnchanged());
  }

  private static CachedAnalysis analysis(GetAnalysisResponse r) {
    return new CachedAnalysis(r.getResult().toByteArray(), instant(r.getCachedAt()));
  }

  private static Stats stats(GetStatsResponse r) {
    return new Stats(
        r.getFiles(),
        r.getAnalyses(),
        r.getBytes(),
        r.getSessions(),
        r.getHits(),
        r.getMisses(),
        r.getEvictions(),
        r.getExpirations());
  }

  private static Stats storeStats(GetStoreStatsResponse r) {
    return new Stats(
        r.getFiles(),
        r.getAnalyses(),
        r.getBytes(),
        r.getSessions(),
        r.getHits(),
        r.getMisses(),
        r.getEvictions(),
        r.getExpirations());
  }
}
