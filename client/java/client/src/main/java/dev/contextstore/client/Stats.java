package dev.contextstore.client;

/**
 * Counters of one namespace, or of the whole store.
 *
 * @param files live files
 * @param analyses live analyses
 * @param bytes charged bytes
 * @param sessions namespaces holding state
 * @param hits reads that found an entry
 * @param misses reads that found none
 * @param evictions entries evicted to fit a budget
 * @param expirations sessions expired for idleness (always 0 for one namespace)
 * @param heldBytes the whole store only: the bytes it holds for its entries, {@code bytes} less
 *     what the memory backend saves by holding a content once for many sessions (equal to {@code
 *     bytes} on Redis); always 0 for one namespace, whose stats do not carry it
 */
public record Stats(
    long files,
    long analyses,
    long bytes,
    long sessions,
    long hits,
    long misses,
    long evictions,
    long expirations,
    long heldBytes) {

  /**
   * Counters without {@code heldBytes} (0), as one namespace's stats are.
   *
   * @param files live files
   * @param analyses live analyses
   * @param bytes charged bytes
   * @param sessions namespaces holding state
   * @param hits reads that found an entry
   * @param misses reads that found none
   * @param evictions entries evicted to fit a budget
   * @param expirations sessions expired for idleness
   */
  public Stats(
      long files,
      long analyses,
      long bytes,
      long sessions,
      long hits,
      long misses,
      long evictions,
      long expirations) {
    this(files, analyses, bytes, sessions, hits, misses, evictions, expirations, 0);
  }
}
