package dev.contextstore.client;

/**
 * What an invalidation (of a file or a prefix) or a session clear removed.
 *
 * @param files files removed
 * @param analyses analyses removed
 * @param revision the namespace's revision after the call (unchanged when it removed nothing):
 *     {@link ContextStoreClient#watch(long, String) watch} from it to see every later change
 */
public record Removed(long files, long analyses, long revision) {}
