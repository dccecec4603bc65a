package dev.contextstore.client;

import java.time.Instant;
import java.util.Arrays;

/**
 * A cached analysis result, compared by value.
 *
 * @param result the analysis bytes
 * @param cachedAt when the server stored it
 */
public record CachedAnalysis(byte[] result, Instant cachedAt) {
  @Override
  public boolean equals(Object other) {
    return other instanceof CachedAnalysis a
        && Arrays.equals(result, a.result)
        && cachedAt.equals(a.cachedAt);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(result) + cachedAt.hashCode();
  }

  @Override
  public String toString() {
    return "CachedAnalysis[result=" + result.length + " bytes, cachedAt=" + cachedAt + "]";
  }
}
