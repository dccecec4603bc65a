package dev.contextstore.client;

/**
 * What an invalidation (of a file or a prefix) or a session clear removed.
 *
 * @param files files removed
 * @param analyses analyses removed
 */
public record Removed(long files, long analyses) {}
