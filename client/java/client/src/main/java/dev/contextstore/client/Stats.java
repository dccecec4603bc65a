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
 */
public record Stats(
    long files,
    long analyses,
    long bytes,
    long sessions,
    long hits,
    long misses,
    long evictions,
    long expirations) {}
