package dev.contextstore.client;

import java.util.Map;

/**
 * What the server says about itself.
 *
 * @param version server version
 * @param backend storage backend, e.g. "memory"
 * @param backendProperties facts only that backend has, e.g. {@code "stripes"} and {@code
 *     "eviction"} for the memory backend
 * @param limits every limit the server enforces
 */
public record ServerInfo(
    String version, String backend, Map<String, String> backendProperties, Limits limits) {

  public ServerInfo {
    backendProperties = Map.copyOf(backendProperties);
  }
}
