package dev.contextstore.conformance;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.contextstore.client.ContextStoreClient;
import dev.contextstore.client.ContextStoreException;
import dev.contextstore.client.Violation;
import io.grpc.Status;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The conformance runner: {@code --target HOST:PORT --cases PATH}. Prints one JSON line per case
 * in file order and exits 0 when every case passed, 1 otherwise (2 on a usage error).
 */
public final class Main {
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().preservingProtoFieldNames().alwaysPrintFieldsWithNoPresence();

  private Main() {}

  public static void main(String[] args) {
    String target = null;
    String cases = null;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if ((arg.equals("--target") || arg.equals("--cases")) && i + 1 < args.length) {
        if (arg.equals("--target")) {
          target = args[++i];
        } else {
          cases = args[++i];
        }
      } else if (arg.startsWith("--target=")) {
        target = arg.substring("--target=".length());
      } else if (arg.startsWith("--cases=")) {
        cases = arg.substring("--cases=".length());
      } else {
        target = null;
        break;
      }
    }
    if (target == null || cases == null) {
      System.err.println("usage: run-conformance --target HOST:PORT --cases PATH");
      System.exit(2);
    }
    JsonObject file;
    try {
      file = JsonParser.parseString(Files.readString(Path.of(cases))).getAsJsonObject();
    } catch (IOException | RuntimeException error) {
      System.err.println("cannot read " + cases + ": " + error.getMessage());
      System.exit(2);
      return;
    }
    PrintStream out =
        new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    boolean allPassed = true;
    try (ContextStoreClient client = new ContextStoreClient(target)) {
      for (JsonElement element : file.getAsJsonArray("cases")) {
        JsonObject result = runCase(client, element.getAsJsonObject());
        allPassed &= result.get("ok").getAsBoolean();
        out.println(GSON.toJson(result));
      }
    }
    out.flush();
    System.exit(allPassed ? 0 : 1);
  }

  private static JsonObject runCase(ContextStoreClient client, JsonObject testCase) {
    JsonObject result = new JsonObject();
    result.addProperty("case", testCase.get("name").getAsString());
    int index = -1;
    try {
      JsonArray sessions =
          testCase.has("sessions") ? testCase.getAsJsonArray("sessions") : new JsonArray();
      for (JsonElement session : sessions) {
        // "" is the global namespace: a ClearSession without session_id.
        client.session(session.getAsString()).clearSession();
      }
      JsonArray steps = testCase.getAsJsonArray("steps");
      for (index = 0; index < steps.size(); index++) {
        Optional<String> failure = runStep(client, steps.get(index).getAsJsonObject());
        if (failure.isPresent()) {
          return failed(result, index, failure.get());
        }
      }
    } catch (ContextStoreException error) {
      return failed(result, index, "clearing the case's sessions failed: " + error.getMessage());
    } catch (RuntimeException error) {
      return failed(result, index, error.toString());
    }
    result.addProperty("ok", true);
    return result;
  }

  private static JsonObject failed(JsonObject result, int step, String error) {
    result.addProperty("ok", false);
    if (step >= 0) {
      result.addProperty("step", step);
    }
    result.addProperty("error", error);
    return result;
  }

  /** Empty when the step behaved as expected, else what differed. */
  private static Optional<String> runStep(ContextStoreClient client, JsonObject step) {
    String name = step.get("rpc").getAsString();
    Rpcs.Rpc<?, ?> rpc = Rpcs.BY_NAME.get(name);
    if (rpc == null) {
      return Optional.of("unknown rpc " + name);
    }
    JsonElement request =
        step.has("request") ? Generators.expand(step.get("request")) : new JsonObject();
    JsonObject expect = step.has("expect") ? step.getAsJsonObject("expect") : new JsonObject();
    String expectedCode = expect.has("code") ? expect.get("code").getAsString() : "OK";
    Message response;
    try {
      response = send(client, rpc, GSON.toJson(request));
    } catch (InvalidProtocolBufferException error) {
      return Optional.of("the request is not a valid " + name + " request: " + error.getMessage());
    } catch (ContextStoreException error) {
      return checkError(expect, expectedCode, error);
    }
    if (!expectedCode.equals(Status.Code.OK.name())) {
      return Optional.of("expected " + expectedCode + ", got OK");
    }
    if (!expect.has("response")) {
      return Optional.empty();
    }
    String printed;
    try {
      printed = PRINTER.print(response);
    } catch (InvalidProtocolBufferException error) {
      return Optional.of("cannot print the response as JSON: " + error.getMessage());
    }
    return Match.difference(
        Generators.expand(expect.get("response")), JsonParser.parseString(printed), "response");
  }

  private static <Q extends Message> Message send(
      ContextStoreClient client, Rpcs.Rpc<?, Q> rpc, String json)
      throws InvalidProtocolBufferException {
    Q request = rpc.parse(json);
    return client.call(stub -> rpc.send(stub, request));
  }

  private static Optional<String> checkError(
      JsonObject expect, String expectedCode, ContextStoreException error) {
    String got = error.code().name();
    if (!got.equals(expectedCode)) {
      String violations = error.violations().isEmpty() ? "" : " " + subjects(error.violations());
      return Optional.of(
          "expected " + expectedCode + ", got " + got + ": " + error.description() + violations);
    }
    if (expect.has("field_violations")) {
      Optional<String> differs =
          sameSet(
              "field_violations",
              expect.getAsJsonArray("field_violations"),
              error.fieldViolations());
      if (differs.isPresent()) {
        return differs;
      }
    }
    if (expect.has("quota_subjects")) {
      return sameSet(
          "quota_subjects", expect.getAsJsonArray("quota_subjects"), error.quotaViolations());
    }
    return Optional.empty();
  }

  private static Optional<String> sameSet(String what, JsonArray expected, List<Violation> actual) {
    Set<String> wanted = new TreeSet<>();
    for (JsonElement subject : expected) {
      wanted.add(subject.getAsString());
    }
    Set<String> got = subjects(actual);
    return wanted.equals(got)
        ? Optional.empty()
        : Optional.of(what + ": expected " + GSON.toJson(wanted) + ", got " + GSON.toJson(got));
  }

  private static Set<String> subjects(List<Violation> violations) {
    return violations.stream()
        .map(Violation::subject)
        .collect(Collectors.toCollection(TreeSet::new));
  }
}
