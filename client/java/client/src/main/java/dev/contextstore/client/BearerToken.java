package dev.contextstore.client;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Call credentials putting {@code authorization: Bearer <token>} on every call. Applied whatever
 * the channel's security level, so that a plaintext loopback channel carries it too (grpc-java
 * leaves that choice to the credentials).
 */
final class BearerToken extends CallCredentials {
  /** The environment variable read for the token when none is given explicitly. */
  static final String ENV = "CONTEXTSTORE_TOKEN";

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String token;

  BearerToken(String token) {
    this.token = token;
  }

  /**
   * The call credentials of {@code token}, or when it is {@code null} of {@link #ENV} as {@code
   * environment} reads it; {@code null} for no token (none, or an empty one).
   */
  static CallCredentials choose(String token, Function<String, String> environment) {
    String chosen = token != null ? token : environment.apply(ENV);
    return chosen == null || chosen.isEmpty() ? null : new BearerToken(chosen);
  }

  @Override
  public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    applier.apply(headers);
  }
}
