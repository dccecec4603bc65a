package dev.contextstore.conformance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.contextstore.client.ContextStoreClient;
import dev.contextstore.client.RemovalReason;
import dev.contextstore.client.WatchEvent;
import dev.contextstore.client.WatchEventKind;
import dev.contextstore.client.WatchResponse;
import dev.contextstore.client.WatchStream;
import io.grpc.Context;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The runner's {@code watch} operation (tests/conformance/README.md): a watch through the typed
 * client's {@link ContextStoreClient#watch(long, String)} on the step's handle, which resumes on
 * its own each time the conformance server ends the stream. Progress responses are skipped; the
 * first {@code responses} that carry events are returned, then the watch is closed (which cancels
 * the call).
 */
final class Watching {
  /** Ends the step's gRPC context at its deadline; a daemon, so it never keeps the JVM up. */
  private static final ScheduledExecutorService DEADLINES =
      Executors.newSingleThreadScheduledExecutor(
          task -> {
            Thread thread = new Thread(task, "watch-deadlines");
            thread.setDaemon(true);
            return thread;
          });

  private Watching() {}

  /**
   * The step's arguments with {@code after_step} (the index of an earlier step of the case whose
   * outcome is {@code {"result": {..., "revision": R}}}) replaced by {@code start_revision} R.
   *
   * @throws IllegalArgumentException when that step has no such outcome
   */
  static JsonObject startAfter(JsonObject args, JsonArray earlier) {
    JsonElement step = args.get("after_step");
    if (step == null || step.isJsonNull()) {
      return args;
    }
    int index = step.getAsInt();
    JsonElement revision = null;
    if (index >= 0 && index < earlier.size() && earlier.get(index).isJsonObject()) {
      JsonElement result = earlier.get(index).getAsJsonObject().get("result");
      if (result != null && result.isJsonObject()) {
        revision = result.getAsJsonObject().get("revision");
      }
    }
    if (revision == null || !revision.isJsonPrimitive()) {
      throw new IllegalArgumentException("step " + index + " has no result with a revision");
    }
    JsonObject resolved = args.deepCopy();
    resolved.remove("after_step");
    resolved.addProperty("start_revision", revision.getAsLong());
    return resolved;
  }

  /**
   * Runs the whole operation within {@code deadline}: the watch is made in a gRPC context with
   * that deadline, so that past it the call ends with DEADLINE_EXCEEDED, as a unary call's would.
   */
  static List<WatchResponse> watch(ContextStoreClient handle, JsonObject args, Duration deadline) {
    int wanted = args.get("responses").getAsInt();
    JsonElement start = args.get("start_revision");
    JsonElement prefix = args.get("path_prefix");
    long startRevision = start == null || start.isJsonNull() ? 0 : start.getAsLong();
    String pathPrefix = prefix == null || prefix.isJsonNull() ? "" : prefix.getAsString();
    List<WatchResponse> collected = new ArrayList<>();
    Context.CancellableContext step =
        Context.current().withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS, DEADLINES);
    Context previous = step.attach();
    try (WatchStream watch = handle.watch(startRevision, pathPrefix)) {
      for (WatchResponse response : watch) {
        if (wanted == 0) {
          break; // the stream's first response, always a progress one
        }
        if (!response.progress()) {
          collected.add(response);
        }
        if (collected.size() >= wanted) {
          break; // closing the watch (try-with-resources) cancels the call
        }
      }
    } finally {
      step.detach(previous);
      step.cancel(null);
    }
    return collected;
  }

  static JsonObject normalize(WatchResponse response) {
    JsonArray events = new JsonArray();
    for (WatchEvent event : response.events()) {
      JsonObject json = new JsonObject();
      json.addProperty(
          "kind", event.kind() == WatchEventKind.UNSPECIFIED ? "" : event.kind().name());
      json.addProperty("path", event.path());
      json.addProperty("sha256", Base64.getEncoder().encodeToString(event.sha256()));
      json.addProperty("version", event.version());
      json.addProperty("analysis_type", event.analysisType());
      json.addProperty(
          "reason", event.reason() == RemovalReason.UNSPECIFIED ? "" : event.reason().name());
      events.add(json);
    }
    JsonObject json = new JsonObject();
    json.addProperty("revision", response.revision());
    json.add("events", events);
    return json;
  }
}
