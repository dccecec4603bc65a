package dev.contextstore.client;

import dev.contextstore.v1.ContextStoreServiceGrpc.ContextStoreServiceBlockingStub;
import dev.contextstore.v1.WatchRequest;
import io.grpc.Channel;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * A blocking client for contextstore over one channel.
 *
 * <p>The client addresses the global namespace; {@link #session(String)} returns a handle bound
 * to one session that shares the channel. Every call has a deadline ({@link #DEFAULT_TIMEOUT}
 * unless {@link #withTimeout(Duration)} says otherwise); a read of a missing entry returns
 * {@link Optional#empty()}; every other failure throws {@link ContextStoreException} (a failed
 * {@link Precondition} its subclass {@link PreconditionFailedException}). {@link
 * #watch(long, String)} streams a namespace's changes, resuming on its own. Reads are
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

  private final Connection connection;
  private final String sessionId; // null: the global namespace

  private ContextStoreClient(Connection connection, String sessionId) {
    this.connection = connection;
    this.sessionId = sessionId;
  }

  /**
   * Connects to {@code target} in plaintext (the token, if any, from {@code CONTEXTSTORE_TOKEN}).
   * {@code target} is one server ({@code "127.0.0.1:50051"}, {@code "localhost:50051"}), several
   * ({@code "127.0.0.1:50051,127.0.0.1:50052"}, {@code "[::1]:50051,10.0.0.2:50051"}: IP
   * addresses with their ports), or a URI grpc-java resolves ({@code "dns:///name:50051"}, every
   * address of the name used). Calls are spread over every address (round_robin).
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
    this(builder(target).timeout(timeout).maxMessageBytes(maxMessageBytes).connect(), null);
  }

  /**
   * Wraps a channel the caller built (TLS, interceptors...) and keeps owning; it sends no token
   * of its own.
   */
  public static ContextStoreClient of(Channel channel, Duration timeout) {
    return new ContextStoreClient(Connection.borrowing(channel, timeout), null);
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
      return new ContextStoreClient(connect(), null);
    }

    private Connection connect() {
      return Connection.owning(
          Channels.open(target, tls, maxMessageBytes),
          BearerToken.choose(token, environment),
          timeout);
    }
  }

  /** A handle bound to {@code sessionId} ({@code null} or empty: global), sharing the channel. */
  public ContextStoreClient session(String sessionId) {
    String bound = sessionId == null || sessionId.isEmpty() ? null : sessionId;
    return new ContextStoreClient(connection.share(), bound);
  }

  /** A handle with another per-call deadline, sharing the channel and the session. */
  public ContextStoreClient withTimeout(Duration timeout) {
    return new ContextStoreClient(connection.share(timeout), sessionId);
  }

  /** The bound session, or empty for the global namespace. */
  public Optional<String> sessionId() {
    return Optional.ofNullable(sessionId);
  }

  /** The per-call deadline. */
  public Duration timeout() {
    return connection.timeout();
  }

  /**
   * Runs one call on the generated stub with this handle's deadline, translating a failure into
   * {@link ContextStoreException}. The typed methods below are built on it; it is public for
   * requests they do not cover.
   */
  public <R> R call(Function<ContextStoreServiceBlockingStub, R> rpc) {
    return connection.call(rpc);
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
    var request = Requests.cacheFile(sessionId, path, content, labels, mtime, precondition);
    return Convert.metadata(call(s -> s.cacheFile(request)).getMetadata());
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
    var request = Requests.getFile(sessionId, path, knownSha256);
    return connection.read(s -> s.getFile(request)).map(Convert::file);
  }

  /** A file's metadata, or empty when it is not cached. */
  public Optional<FileMetadata> getMetadata(String path) {
    var request = Requests.getMetadata(sessionId, path);
    return connection.read(s -> s.getMetadata(request)).map(r -> Convert.metadata(r.getMetadata()));
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
    var request = Requests.batchGetFiles(sessionId, paths, knownSha256);
    return Convert.files(call(s -> s.batchGetFiles(request)));
  }

  /**
   * Stores every file or none: one invalid item, or one failed {@link FileUpload#precondition()}
   * ({@link PreconditionFailedException}, naming the item's path), fails the whole call.
   */
  public List<FileMetadata> batchCacheFiles(List<FileUpload> files) {
    var request = Requests.batchCacheFiles(sessionId, files);
    return Convert.metadataList(call(s -> s.batchCacheFiles(request)).getMetadataList());
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
    var request = FileListing.request(sessionId, options, pageToken);
    return FileListing.page(call(s -> s.listFiles(request)));
  }

  // -- watching ---------------------------------------------------------------

  /** {@link #watch(long, String)} of every path, from now. */
  public WatchStream watch() {
    return watch(0, "");
  }

  /** {@link #watch(long, String)} of every path. */
  public WatchStream watch(long startRevision) {
    return watch(startRevision, "");
  }

  /**
   * The changes of this namespace after {@code startRevision} ({@code 0}: from now; a revision a
   * write, {@link FilesPage#revision()} or a response gave), only those under {@code pathPrefix}
   * ({@code null} or empty: every path; session events always come), in revision order: a
   * blocking stream without a deadline, which resumes on its own when the server drops it (see
   * {@link WatchStream}). Close it to cancel the call. A start revision the server no longer
   * retains throws {@link RevisionCompactedException} from the iteration. It keeps resuming for up
   * to {@link WatchStream#DEFAULT_RESUME_TIMEOUT} (30 s) without receiving anything.
   */
  public WatchStream watch(long startRevision, String pathPrefix) {
    return watch(startRevision, pathPrefix, WatchStream.DEFAULT_RESUME_TIMEOUT);
  }

  /**
   * {@link #watch(long, String)}, resuming a dropped call until {@code resumeTimeout} has passed
   * since the first failure of a run of failures with nothing received (a response ends the run),
   * then throwing the last UNAVAILABLE error; {@link Duration#ZERO}: never resume.
   */
  public WatchStream watch(long startRevision, String pathPrefix, Duration resumeTimeout) {
    return watch(
        startRevision, pathPrefix, new WatchStream.Resume(resumeTimeout, System::nanoTime));
  }

  /** {@link #watch(long, String)} with its resume policy, and clock, given: the tests'. */
  WatchStream watch(long startRevision, String pathPrefix, WatchStream.Resume resume) {
    WatchRequest request = Requests.watch(sessionId, startRevision, pathPrefix);
    return new WatchStream(connection, request, resume);
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
    var request = Requests.cacheAnalysis(sessionId, path, analysisType, result, precondition);
    return Convert.instant(call(s -> s.cacheAnalysis(request)).getCachedAt());
  }

  /** An analysis result, or empty when it is not cached (or was dropped as stale). */
  public Optional<CachedAnalysis> getAnalysis(String path, String analysisType) {
    var request = Requests.getAnalysis(sessionId, path, analysisType);
    return connection.read(s -> s.getAnalysis(request)).map(Convert::analysis);
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
    var request = Requests.invalidateFile(sessionId, path, precondition);
    return Convert.fileRemoved(call(s -> s.invalidateFile(request)));
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
    var request = Requests.invalidateAnalysis(sessionId, path, analysisType);
    return call(s -> s.invalidateAnalysis(request)).getAnalysesRemoved();
  }

  /**
   * Removes every file and analysis of this namespace whose path starts with {@code pathPrefix},
   * atomically, and returns how many (an empty prefix is refused with INVALID_ARGUMENT: {@link
   * #clearSession()} removes a whole namespace).
   */
  public Removed invalidatePrefix(String pathPrefix) {
    var request = Requests.invalidatePrefix(sessionId, pathPrefix);
    return Convert.prefixRemoved(call(s -> s.invalidatePrefix(request)));
  }

  /** Removes everything of this namespace, atomically. */
  public Removed clearSession() {
    return Convert.sessionCleared(call(s -> s.clearSession(Requests.clearSession(sessionId))));
  }

  // -- introspection ----------------------------------------------------------

  /**
   * Counters of this handle's namespace: its session, or the global namespace on the client
   * itself.
   */
  public Stats stats() {
    return Convert.stats(call(s -> s.getStats(Requests.getStats(sessionId))));
  }

  /** Counters of the whole store, every namespace included. */
  public Stats storeStats() {
    return Convert.storeStats(call(s -> s.getStoreStats(Requests.getStoreStats())));
  }

  /** Version, backend, the backend's own properties and every limit the server enforces. */
  public ServerInfo serverInfo() {
    return Convert.serverInfo(call(s -> s.getServerInfo(Requests.getServerInfo())));
  }

  /** Closes the channel this client opened; a no-op on handles and borrowed channels. */
  @Override
  public void close() {
    connection.close();
  }
}
