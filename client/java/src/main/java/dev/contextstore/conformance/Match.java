package dev.contextstore.conformance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.util.Map;
import java.util.Optional;

/**
 * The partial match of tests/conformance/README.md: an expected object names the keys that
 * matter, a list matches element by element, numbers and decimal strings compare by value, and a
 * default ({@code false}, {@code 0}, {@code ""}) also matches an absent value.
 */
final class Match {
  private static final int SHOWN_CHARS = 120;

  private Match() {}

  /** Empty when {@code actual} matches {@code expected}, else what differed and where. */
  static Optional<String> difference(JsonElement expected, JsonElement actual, String where) {
    if (expected.isJsonObject()) {
      JsonObject object = expected.getAsJsonObject();
      if (object.size() == 1 && object.has("$present")) {
        boolean wanted = object.get("$present").getAsBoolean();
        return wanted == !isDefault(actual)
            ? Optional.empty()
            : differ(where, wanted ? "a non-default value" : "a default value", actual);
      }
      if (object.size() == 1 && object.has("$absent")) {
        boolean wanted = object.get("$absent").getAsBoolean();
        return wanted == isMissing(actual)
            ? Optional.empty()
            : differ(where, wanted ? "absent" : "present", actual);
      }
      // An unset message field reads as an empty message, whose fields are all absent.
      if (!isMissing(actual) && !actual.isJsonObject()) {
        return differ(where, "an object", actual);
      }
      JsonObject got = isMissing(actual) ? new JsonObject() : actual.getAsJsonObject();
      for (Map.Entry<String, JsonElement> entry : object.entrySet()) {
        JsonElement value = got.get(entry.getKey());
        Optional<String> found =
            difference(entry.getValue(), value, where + "." + entry.getKey());
        if (found.isPresent()) {
          return found;
        }
      }
      return Optional.empty();
    }
    if (expected.isJsonArray()) {
      JsonArray list = expected.getAsJsonArray();
      if (isMissing(actual) || !actual.isJsonArray()) {
        return list.isEmpty() && isMissing(actual)
            ? Optional.empty()
            : differ(where, "a list of " + list.size(), actual);
      }
      JsonArray got = actual.getAsJsonArray();
      if (got.size() != list.size()) {
        return differ(where, "a list of " + list.size(), actual);
      }
      for (int i = 0; i < list.size(); i++) {
        Optional<String> found = difference(list.get(i), got.get(i), where + "[" + i + "]");
        if (found.isPresent()) {
          return found;
        }
      }
      return Optional.empty();
    }
    if (expected.isJsonNull()) {
      return isMissing(actual) ? Optional.empty() : differ(where, "absent", actual);
    }
    JsonPrimitive scalar = expected.getAsJsonPrimitive();
    if (isMissing(actual)) {
      return isDefault(scalar) ? Optional.empty() : differ(where, show(scalar), actual);
    }
    return actual.isJsonPrimitive() && scalarsEqual(scalar, actual.getAsJsonPrimitive())
        ? Optional.empty()
        : differ(where, show(scalar), actual);
  }

  private static boolean scalarsEqual(JsonPrimitive expected, JsonPrimitive actual) {
    BigDecimal left = decimal(expected);
    BigDecimal right = decimal(actual);
    if (left != null && right != null) {
      return left.compareTo(right) == 0;
    }
    if (expected.isBoolean() || actual.isBoolean()) {
      return expected.isBoolean() && actual.isBoolean()
          && expected.getAsBoolean() == actual.getAsBoolean();
    }
    if (expected.isString() && actual.isString()) {
      return expected.getAsString().equals(actual.getAsString());
    }
    return false;
  }

  /** A number, or a string holding a plain decimal number; else null. */
  private static BigDecimal decimal(JsonPrimitive value) {
    if (value.isNumber()) {
      return new BigDecimal(value.getAsString());
    }
    if (value.isString() && value.getAsString().matches("-?[0-9]+(\\.[0-9]+)?")) {
      return new BigDecimal(value.getAsString());
    }
    return null;
  }

  private static boolean isMissing(JsonElement value) {
    return value == null || value.isJsonNull();
  }

  /** Absent, null, false, zero, "", an empty list or an empty object. */
  private static boolean isDefault(JsonElement value) {
    if (isMissing(value)) {
      return true;
    }
    if (value.isJsonArray()) {
      return value.getAsJsonArray().isEmpty();
    }
    if (value.isJsonObject()) {
      return value.getAsJsonObject().size() == 0;
    }
    JsonPrimitive scalar = value.getAsJsonPrimitive();
    if (scalar.isBoolean()) {
      return !scalar.getAsBoolean();
    }
    if (scalar.isString() && scalar.getAsString().isEmpty()) {
      return true;
    }
    BigDecimal number = decimal(scalar);
    return number != null && number.signum() == 0;
  }

  private static Optional<String> differ(String where, String wanted, JsonElement actual) {
    return Optional.of(where + ": expected " + wanted + ", got " + show(actual));
  }

  static String show(JsonElement value) {
    if (isMissing(value)) {
      return "absent";
    }
    String text = value.toString();
    return text.length() <= SHOWN_CHARS
        ? text
        : text.substring(0, SHOWN_CHARS) + "... (" + text.length() + " chars)";
  }
}
