package dev.contextstore.conformance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;

/**
 * The case file's value generators: {@code {"$bytes": {"fill": "a", "count": N}}} becomes the
 * base64 of N bytes 'a', {@code {"$string": {"fill": "a", "count": N}}} the string of N 'a'.
 */
final class Generators {
  private Generators() {}

  /** A copy of {@code value} with every generator replaced by what it generates. */
  static JsonElement expand(JsonElement value) {
    if (value.isJsonArray()) {
      JsonArray out = new JsonArray();
      for (JsonElement item : value.getAsJsonArray()) {
        out.add(expand(item));
      }
      return out;
    }
    if (!value.isJsonObject()) {
      return value;
    }
    JsonObject object = value.getAsJsonObject();
    if (object.size() == 1 && object.has("$bytes")) {
      byte[] fill = fill(object.getAsJsonObject("$bytes"), "$bytes");
      return new JsonPrimitive(Base64.getEncoder().encodeToString(fill));
    }
    if (object.size() == 1 && object.has("$string")) {
      JsonObject spec = object.getAsJsonObject("$string");
      return new JsonPrimitive(spec.get("fill").getAsString().repeat(count(spec, "$string")));
    }
    JsonObject out = new JsonObject();
    for (Map.Entry<String, JsonElement> entry : object.entrySet()) {
      out.add(entry.getKey(), expand(entry.getValue()));
    }
    return out;
  }

  private static byte[] fill(JsonObject spec, String name) {
    String fill = spec.get("fill").getAsString();
    if (fill.length() != 1 || fill.charAt(0) > 0x7f) {
      throw new IllegalArgumentException(name + ".fill must be one ASCII character: " + fill);
    }
    byte[] bytes = new byte[count(spec, name)];
    Arrays.fill(bytes, (byte) fill.charAt(0));
    return bytes;
  }

  private static int count(JsonObject spec, String name) {
    int count = spec.get("count").getAsInt();
    if (count < 0) {
      throw new IllegalArgumentException(name + ".count must not be negative: " + count);
    }
    return count;
  }
}
