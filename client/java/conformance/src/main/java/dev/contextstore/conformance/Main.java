package dev.contextstore.conformance;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.contextstore.client.CachedAnalysis;
import dev.contextstore.client.CachedFile;
import dev.contextstore.client.ContextStoreClient;
import dev.contextstore.client.ContextStoreException;
import dev.contextstore.client.FileMetadata;
import dev.contextstore.client.FileUpload;
import dev.contextstore.client.FilesPage;
import dev.contextstore.client.Limits;
import dev.contextstore.client.ListFilesOptions;
import dev.contextstore.client.Precondition;
import dev.contextstore.client.PreconditionFailedException;
import dev.contextstore.client.Removed;
import dev.contextstore.client.RevisionCompactedException;
import dev.contextstore.client.ServerInfo;
import dev.contextstore.client.Stats;
import dev.contextstore.client.Tls;
import dev.contextstore.client.Violation;
import dev.contextstore.client.WatchResponse;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Java conformance runner: {@code --target HOST:PORT [--target ...] --cases PATH}
 * (tests/conformance/README.md). A thin adapter: it maps each operation name to the typed
 * client's method, runs every step and prints what came back, normalized, one JSON line per case.
 * With several {@code --target}, each is one client (a value such as {@code A,B} is one client
 * balancing over both) and step k of a case goes to client k mod n; the setup clears go to the
 * first. {@code --tls-ca}, {@code --tls-cert} and {@code --tls-key} are every client's TLS
 * settings; {@code --token} is the default clients' token (else {@code CONTEXTSTORE_TOKEN}); a
 * step with {@code "as": NAME} runs on a client sending the token of {@code --identity
 * NAME=TOKEN} instead (same TLS, same target choice), made on first use and kept per (target,
 * NAME). It judges nothing: the harness does. Exits 0 once every case is printed, 2 when it
 * cannot run.
 */
public final class Main {
  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final Gson GSON =
      new GsonBuilder().disableHtmlEscaping().serializeNulls().create();

  private Main() {}

  /** One operation of the suite: a typed-client method, called with the step's arguments. */
  @FunctionalInterface
  private interface Operation {
    Object run(ContextStoreClient client, JsonObject args);
  }

  private static final Map<String, Operation> OPERATIONS = new LinkedHashMap<>();

  static {
    op(
        "cache_file",
        (c, a) ->
            c.cacheFile(
                text(a, "path"), bytes(a, "content"), labels(a), mtime(a), precondition(a)));
    op("get_file", (c, a) -> c.getFile(text(a, "path"), optionalBytes(a, "known_sha256")));
    op("get_metadata", (c, a) -> c.getMetadata(text(a, "path")));
    op(
        "cache_analysis",
        (c, a) ->
            c.cacheAnalysis(
                text(a, "path"), text(a, "analysis_type"), bytes(a, "result"), precondition(a)));
    op("get_analysis", (c, a) -> c.getAnalysis(text(a, "path"), text(a, "analysis_type")));
    op("invalidate_file", (c, a) -> c.invalidateFile(text(a, "path"), precondition(a)));
    op(
        "invalidate_analysis",
        (c, a) -> c.invalidateAnalysis(text(a, "path"), text(a, "analysis_type")));
    op("invalidate_analyses", (c, a) -> c.invalidateAnalyses(text(a, "path")));
    op("clear_session", (c, a) -> c.clearSession());
    op(
        "batch_get_files",
        (c, a) -> c.batchGetFiles(texts(a.getAsJsonArray("paths")), knownDigests(a)));
    op("batch_cache_files", (c, a) -> c.batchCacheFiles(uploads(a.getAsJsonArray("files"))));
    op("list_files", (c, a) -> c.listFiles(listing(a)).stream().toList()); // every page
    op("list_files_page", (c, a) -> c.listFilesPage(listing(a), optionalText(a, "page_token")));
    op("invalidate_prefix", (c, a) -> c.invalidatePrefix(text(a, "path_prefix")));
    op("stats", (c, a) -> c.stats());
    op("store_stats", (c, a) -> c.storeStats());
    op("server_info", (c, a) -> c.serverInfo());
    op("watch", (c, a) -> Watching.watch(c, a, DEADLINE)); // after_step: see runStep
  }

  private static void op(String name, Operation operation) {
    OPERATIONS.put(name, operation);
  }

  private static final String USAGE =
      "usage: run-conformance --target HOST:PORT [--target ...] --cases PATH [--tls-ca FILE]"
          + " [--tls-cert FILE --tls-key FILE] [--token TOKEN] [--identity NAME=TOKEN ...]";

  /** The command line: every flag as {@code --name value} or {@code --name=value}. */
  private static final class Settings {
    final List<String> targets = new ArrayList<>();
    String cases;
    String tlsCa;
    String tlsCert;
    String tlsKey;
    String token; // null: the client reads CONTEXTSTORE_TOKEN
    final Map<String, String> identities = new HashMap<>();

    static Settings parse(String[] args) {
      Settings settings = new Settings();
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        int equals = arg.indexOf('=');
        String name = equals < 0 ? arg : arg.substring(0, equals);
        String value;
        if (equals >= 0) {
          value = arg.substring(equals + 1);
        } else if (i + 1 < args.length) {
          value = args[++i];
        } else {
          throw new IllegalArgumentException("argument " + GSON.toJson(arg) + " needs a value");
        }
        settings.set(name, value);
      }
      if (settings.targets.isEmpty() || settings.cases == null) {
        throw new IllegalArgumentException("--target and --cases are required");
      }
      return settings;
    }

    private void set(String name, String value) {
      switch (name) {
        case "--target" -> targets.add(value);
        case "--cases" -> cases = value;
        case "--tls-ca" -> tlsCa = value;
        case "--tls-cert" -> tlsCert = value;
        case "--tls-key" -> tlsKey = value;
        case "--token" -> token = value;
        case "--identity" -> {
          int equals = value.indexOf('=');
          if (equals < 1) {
            throw new IllegalArgumentException(
                "--identity " + GSON.toJson(value) + " is not NAME=TOKEN");
          }
          identities.put(value.substring(0, equals), value.substring(equals + 1));
        }
        default -> throw new IllegalArgumentException("unexpected argument " + GSON.toJson(name));
      }
    }

    /** Every client's TLS settings, or {@code null} for plaintext. */
    Tls tls() {
      if ((tlsCert == null) != (tlsKey == null)) {
        throw new IllegalArgumentException("--tls-cert and --tls-key go together");
      }
      if (tlsCa == null && tlsCert == null) {
        return null;
      }
      Tls tls = tlsCa == null ? Tls.systemRoots() : Tls.trusting(Path.of(tlsCa));
      return tlsCert == null
          ? tls
          : tls.withClientCertificate(Path.of(tlsCert), Path.of(tlsKey));
    }

    /** A client of {@code target} sending {@code token} ({@code null}: the environment's). */
    ContextStoreClient connect(String target, String token) {
      ContextStoreClient.Builder builder = ContextStoreClient.builder(target).timeout(DEADLINE);
      Tls tls = tls();
      if (tls != null) {
        builder.tls(tls);
      }
      if (token != null) {
        builder.token(token);
      }
      return builder.build();
    }
  }

  /**
   * The default clients, one per {@code --target}, and the clients of the {@code --identity}
   * tokens, made on first use for the (target, name) a step needs.
   */
  private static final class Clients implements AutoCloseable {
    private final Settings settings;
    final List<ContextStoreClient> defaults = new ArrayList<>();
    private final Map<String, ContextStoreClient> named = new HashMap<>();

    Clients(Settings settings) {
      this.settings = settings;
      try {
        for (String target : settings.targets) {
          defaults.add(settings.connect(target, settings.token));
        }
      } catch (RuntimeException error) {
        close();
        throw error;
      }
    }

    /** The client of step k: target k mod n, with the token of {@code as} when given. */
    ContextStoreClient forStep(int k, String as) {
      int index = k % defaults.size();
      if (as == null) {
        return defaults.get(index);
      }
      String token = settings.identities.get(as);
      if (token == null) {
        throw new IllegalArgumentException(
            "unknown identity " + GSON.toJson(as) + " (no --identity " + as + "=TOKEN)");
      }
      return named.computeIfAbsent(
          index + "\u0000" + as, key -> settings.connect(settings.targets.get(index), token));
    }

    @Override
    public void close() {
      defaults.forEach(ContextStoreClient::close);
      named.values().forEach(ContextStoreClient::close);
    }
  }

  public static void main(String[] args) {
    Settings settings;
    try {
      settings = Settings.parse(args);
    } catch (IllegalArgumentException usage) {
      exit(2, usage.getMessage() + "\n" + USAGE);
      return;
    }
    String cases = settings.cases;
    JsonArray file;
    try {
      file =
          JsonParser.parseString(Files.readString(Path.of(cases)))
              .getAsJsonObject()
              .getAsJsonArray("cases");
    } catch (IOException | RuntimeException error) {
      exit(2, "cannot read " + cases + ": " + error);
      return;
    }
    PrintStream out =
        new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    Clients clients;
    try {
      clients = new Clients(settings);
    } catch (IllegalArgumentException | UncheckedIOException refused) { // a list, a TLS file
      exit(2, refused.getMessage() + "\n" + USAGE);
      return;
    }
    try (clients) {
      for (JsonElement element : file) {
        out.println(GSON.toJson(runCase(clients, element.getAsJsonObject())));
      }
    }
    out.flush();
    System.exit(0);
  }

  private static void exit(int status, String message) {
    System.err.println(message);
    System.exit(status);
  }

  /**
   * Clears every listed session through the first client, then runs step k through client k mod
   * n: one line of the report.
   */
  private static JsonObject runCase(Clients clients, JsonObject testCase) {
    JsonObject line = new JsonObject();
    line.addProperty("case", testCase.get("name").getAsString());
    for (JsonElement session : testCase.getAsJsonArray("sessions")) {
      try {
        clients.defaults.get(0).session(session.getAsString()).clearSession(); // "": global
      } catch (ContextStoreException error) {
        line.addProperty(
            "setup_error", "clear_session(" + GSON.toJson(session) + "): " + error.getMessage());
        return line;
      }
    }
    JsonArray outcomes = new JsonArray();
    JsonArray steps = testCase.getAsJsonArray("steps");
    for (int k = 0; k < steps.size(); k++) {
      JsonObject step = steps.get(k).getAsJsonObject();
      JsonElement as = step.get("as");
      ContextStoreClient client;
      try {
        client = clients.forStep(k, as == null || as.isJsonNull() ? null : as.getAsString());
      } catch (IllegalArgumentException unknown) {
        outcomes.add(runnerError(unknown.getMessage()));
        continue;
      }
      outcomes.add(runStep(client, step, outcomes));
    }
    line.add("outcomes", outcomes);
    return line;
  }

  /** {@code earlier}: the outcomes of the case's steps before this one. */
  private static JsonObject runStep(ContextStoreClient client, JsonObject step, JsonArray earlier) {
    String name = step.get("op").getAsString();
    Operation operation = OPERATIONS.get(name);
    if (operation == null) {
      return runnerError("unknown operation " + GSON.toJson(name));
    }
    JsonElement session = step.get("session");
    ContextStoreClient handle =
        client.session(session == null || session.isJsonNull() ? null : session.getAsString());
    JsonObject args = step.has("args") ? step.getAsJsonObject("args") : new JsonObject();
    if (name.equals("watch")) {
      try {
        args = Watching.startAfter(args, earlier); // after_step: an earlier result's revision
      } catch (RuntimeException error) {
        return runnerError(name + ": " + error.getMessage());
      }
    }
    Object result;
    try {
      result = operation.run(handle, args);
    } catch (ContextStoreException error) {
      JsonArray violations = new JsonArray();
      for (Violation violation : error.violations()) {
        violations.add(violation.subject());
      }
      JsonObject failure = new JsonObject();
      failure.addProperty("code", error.code().name());
      failure.add("violations", violations);
      failure.addProperty("message", error.description());
      if (error instanceof PreconditionFailedException failed) {
        failure.addProperty("current_version", failed.currentVersion());
        failure.addProperty("current_sha256", base64(failed.currentSha256()));
      }
      if (error instanceof RevisionCompactedException compacted) {
        failure.addProperty("oldest_revision", compacted.oldestRevision());
        failure.addProperty("current_revision", compacted.currentRevision());
      }
      JsonObject outcome = new JsonObject();
      outcome.add("error", failure);
      return outcome;
    } catch (RuntimeException error) {
      return runnerError(name + ": " + error);
    }
    JsonObject outcome = new JsonObject();
    if (result instanceof Optional<?> found && found.isEmpty()) {
      outcome.addProperty("miss", true); // getFile, getMetadata, getAnalysis
      return outcome;
    }
    try {
      outcome.add("result", normalize(result));
    } catch (RuntimeException error) {
      return runnerError(name + ": " + error);
    }
    return outcome;
  }

  private static JsonObject runnerError(String why) {
    JsonObject outcome = new JsonObject();
    outcome.addProperty("runner_error", why);
    return outcome;
  }

  // -- arguments (JSON: bytes as base64, times as RFC 3339) ---------------------------------

  private static String text(JsonObject args, String key) {
    return args.get(key).getAsString();
  }

  private static byte[] bytes(JsonObject args, String key) {
    return Base64.getDecoder().decode(text(args, key));
  }

  /** An optional base64 argument (a digest), or {@code null} when absent. */
  private static byte[] optionalBytes(JsonObject args, String key) {
    JsonElement given = args.get(key);
    return given == null || given.isJsonNull() ? null : bytes(args, key);
  }

  /** An optional string argument, or {@code null} when absent. */
  private static String optionalText(JsonObject args, String key) {
    JsonElement given = args.get(key);
    return given == null || given.isJsonNull() ? null : given.getAsString();
  }

  /** {@code path_prefix} (absent: every path) and {@code page_size} (absent: 0, the default). */
  private static ListFilesOptions listing(JsonObject args) {
    JsonElement size = args.get("page_size");
    return new ListFilesOptions(
        optionalText(args, "path_prefix"), size == null || size.isJsonNull() ? 0 : size.getAsInt());
  }

  /** {@code if_version} (0: only if no file is there) and {@code if_sha256}, each if given. */
  private static Precondition precondition(JsonObject args) {
    Precondition precondition = Precondition.none();
    JsonElement version = args.get("if_version");
    if (version != null && !version.isJsonNull()) {
      precondition = precondition.andIfVersion(version.getAsLong());
    }
    byte[] sha256 = optionalBytes(args, "if_sha256");
    if (sha256 != null) {
      precondition = precondition.andIfSha256(sha256);
    }
    return precondition;
  }

  /** {@code known_sha256} of batch_get_files: path to base64 digest (empty when absent). */
  private static Map<String, byte[]> knownDigests(JsonObject args) {
    Map<String, byte[]> digests = new LinkedHashMap<>();
    JsonElement given = args.get("known_sha256");
    if (given != null && !given.isJsonNull()) {
      for (Map.Entry<String, JsonElement> entry : given.getAsJsonObject().entrySet()) {
        digests.put(entry.getKey(), Base64.getDecoder().decode(entry.getValue().getAsString()));
      }
    }
    return digests;
  }

  private static List<String> texts(JsonArray array) {
    List<String> texts = new ArrayList<>();
    for (JsonElement element : array) {
      texts.add(element.getAsString());
    }
    return texts;
  }

  private static Map<String, String> labels(JsonObject args) {
    Map<String, String> labels = new LinkedHashMap<>();
    JsonElement given = args.get("labels");
    if (given != null && !given.isJsonNull()) {
      for (Map.Entry<String, JsonElement> label : given.getAsJsonObject().entrySet()) {
        labels.put(label.getKey(), label.getValue().getAsString());
      }
    }
    return labels;
  }

  /** The optional modification time, or {@code null}. */
  private static Instant mtime(JsonObject args) {
    JsonElement given = args.get("mtime");
    return given == null || given.isJsonNull()
        ? null
        : OffsetDateTime.parse(given.getAsString()).toInstant();
  }

  private static List<FileUpload> uploads(JsonArray files) {
    List<FileUpload> uploads = new ArrayList<>();
    for (JsonElement element : files) {
      JsonObject file = element.getAsJsonObject();
      uploads.add(
          new FileUpload(
              text(file, "path"),
              bytes(file, "content"),
              labels(file),
              mtime(file),
              precondition(file)));
    }
    return uploads;
  }

  // -- normalized results (tests/conformance/README.md, "What a runner prints") --------------

  private static JsonElement normalize(Object value) {
    if (value instanceof Optional<?> found) { // an element of batchGetFiles
      return found.isEmpty() ? JsonNull.INSTANCE : normalize(found.get());
    }
    if (value instanceof CachedFile file) {
      JsonObject json = new JsonObject();
      json.addProperty("content", base64(file.content()));
      json.add("metadata", metadata(file.metadata()));
      json.addProperty("unchanged", file.unchanged());
      return json;
    }
    if (value instanceof FileMetadata metadata) {
      return metadata(metadata);
    }
    if (value instanceof CachedAnalysis analysis) {
      JsonObject json = new JsonObject();
      json.addProperty("result", base64(analysis.result()));
      json.addProperty("cached_at", rfc3339(analysis.cachedAt()));
      return json;
    }
    if (value instanceof Instant cachedAt) { // cacheAnalysis
      JsonObject json = new JsonObject();
      json.addProperty("cached_at", rfc3339(cachedAt));
      return json;
    }
    if (value instanceof Removed removed) {
      JsonObject json = new JsonObject();
      json.addProperty("files", removed.files());
      json.addProperty("analyses", removed.analyses());
      json.addProperty("revision", removed.revision());
      return json;
    }
    if (value instanceof FilesPage page) {
      JsonObject json = new JsonObject();
      json.add("files", normalize(page.files()));
      json.addProperty("next_page_token", page.nextPageToken());
      json.addProperty("revision", page.revision());
      return json;
    }
    if (value instanceof WatchResponse response) { // an element of watch
      return Watching.normalize(response);
    }
    if (value instanceof Stats stats) {
      return stats(stats);
    }
    if (value instanceof ServerInfo info) {
      return serverInfo(info);
    }
    if (value instanceof List<?> list) {
      JsonArray json = new JsonArray();
      for (Object element : list) {
        json.add(normalize(element));
      }
      return json;
    }
    if (value instanceof Long count) { // invalidateAnalysis, invalidateAnalyses
      return new JsonPrimitive(count);
    }
    throw new IllegalStateException(
        "no normalized form for " + (value == null ? "null" : value.getClass().getName()));
  }

  private static String base64(byte[] data) {
    return Base64.getEncoder().encodeToString(data);
  }

  /** RFC 3339 in UTC, at the instant's full (nanosecond) precision. */
  private static String rfc3339(Instant when) {
    return when.toString();
  }

  private static JsonObject metadata(FileMetadata m) {
    JsonObject json = new JsonObject();
    json.addProperty("path", m.path());
    json.addProperty("size", m.size());
    json.addProperty("sha256", base64(m.sha256()));
    json.add(
        "mtime",
        m.mtime().<JsonElement>map(t -> new JsonPrimitive(rfc3339(t))).orElse(JsonNull.INSTANCE));
    json.addProperty("cached_at", rfc3339(m.cachedAt()));
    JsonObject labels = new JsonObject();
    m.labels().forEach(labels::addProperty);
    json.add("labels", labels);
    json.addProperty("version", m.version());
    return json;
  }

  private static JsonObject stats(Stats s) {
    JsonObject json = new JsonObject();
    json.addProperty("files", s.files());
    json.addProperty("analyses", s.analyses());
    json.addProperty("bytes", s.bytes());
    json.addProperty("sessions", s.sessions());
    json.addProperty("hits", s.hits());
    json.addProperty("misses", s.misses());
    json.addProperty("evictions", s.evictions());
    json.addProperty("expirations", s.expirations());
    json.addProperty("held_bytes", s.heldBytes());
    return json;
  }

  private static JsonObject serverInfo(ServerInfo info) {
    Limits l = info.limits();
    JsonObject limits = new JsonObject();
    limits.addProperty("max_content_bytes", l.maxContentBytes());
    limits.addProperty("max_message_bytes", l.maxMessageBytes());
    limits.addProperty("max_batch_items", l.maxBatchItems());
    limits.addProperty("max_path_bytes", l.maxPathBytes());
    limits.addProperty("max_session_id_bytes", l.maxSessionIdBytes());
    limits.addProperty("max_analysis_type_bytes", l.maxAnalysisTypeBytes());
    limits.addProperty("max_labels", l.maxLabels());
    limits.addProperty("max_label_key_bytes", l.maxLabelKeyBytes());
    limits.addProperty("max_label_value_bytes", l.maxLabelValueBytes());
    limits.addProperty("total_bytes", l.totalBytes());
    limits.addProperty("session_bytes", l.sessionBytes());
    limits.addProperty("session_entries", l.sessionEntries());
    limits.addProperty("session_ttl", seconds(l.sessionTtl()));
    limits.addProperty("max_concurrent_rpcs", l.maxConcurrentRpcs());
    limits.addProperty("max_inflight_response_bytes", l.maxInflightResponseBytes());
    limits.addProperty("receive_timeout", seconds(l.receiveTimeout()));
    limits.addProperty("max_watchers", l.maxWatchers());
    limits.addProperty("watch_progress_interval", seconds(l.watchProgressInterval()));
    limits.addProperty("watch_history_revisions", l.watchHistoryRevisions());
    JsonObject properties = new JsonObject();
    info.backendProperties().forEach(properties::addProperty);
    JsonObject json = new JsonObject();
    json.addProperty("version", info.version());
    json.addProperty("backend", info.backend());
    json.add("backend_properties", properties);
    json.add("limits", limits);
    return json;
  }

  private static double seconds(Duration d) {
    return d.getSeconds() + d.getNano() / 1e9;
  }
}
