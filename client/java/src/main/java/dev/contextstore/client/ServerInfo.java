package dev.contextstore.client;

/**
 * What the server says about itself.
 *
 * @param version server version
 * @param backend storage backend, e.g. "memory"
 * @param stripes lock stripes of the memory backend
 * @param limits every limit the server enforces
 */
public record ServerInfo(String version, String backend, long stripes, Limits limits) {}
