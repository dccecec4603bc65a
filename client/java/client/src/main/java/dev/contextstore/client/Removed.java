package dev.contextstore.client;

/**
 * What an invalidation or a session clear removed.
 *
 * @param files files removed
 * @param analyses analyses removed
 */
public record Removed(long files, long analyses) {}
