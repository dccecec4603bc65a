package dev.contextstore.client;

import com.google.protobuf.DescriptorProtos.MethodOptions.IdempotencyLevel;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import dev.contextstore.v1.ContextStoreProto;
import dev.contextstore.v1.ContextStoreServiceGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The channels {@link ContextStoreClient} opens: plaintext or TLS to a target ({@link Targets}),
 * with the response limit, calls spread round_robin over every address and reads retried on
 * UNAVAILABLE through the service config.
 */
final class Channels {
  /**
   * The methods the channel retries on UNAVAILABLE: those the contract marks {@code
   * idempotency_level = NO_SIDE_EFFECTS}, read from the generated descriptors so that a new read
   * RPC is retried without anyone editing a list.
   */
  static final List<String> RETRIED_METHODS = retriedMethods();

  private Channels() {}

  /**
   * Opens a channel to {@code target} ({@code tls} {@code null}: plaintext).
   *
   * @throws IllegalArgumentException for a target list it cannot take
   * @throws java.io.UncheckedIOException for a TLS file that cannot be read
   */
  static ManagedChannel open(String target, Tls tls, int maxMessageBytes) {
    ChannelCredentials credentials =
        tls == null ? InsecureChannelCredentials.create() : tls.credentials();
    return configure(Targets.channelBuilder(target, credentials), maxMessageBytes).build();
  }

  /**
   * What every channel this client opens has: the response limit, calls spread over every
   * address and retried reads.
   */
  static ManagedChannelBuilder<?> configure(ManagedChannelBuilder<?> builder, int maxMessageBytes) {
    return builder
        .maxInboundMessageSize(maxMessageBytes)
        .defaultServiceConfig(serviceConfig())
        .enableRetry();
  }

  private static List<String> retriedMethods() {
    ServiceDescriptor service =
        ContextStoreProto.getDescriptor().getServices().stream()
            .filter(s -> s.getFullName().equals(ContextStoreServiceGrpc.SERVICE_NAME))
            .findFirst()
            .orElseThrow();
    return service.getMethods().stream()
        .filter(m -> m.getOptions().getIdempotencyLevel() == IdempotencyLevel.NO_SIDE_EFFECTS)
        .map(MethodDescriptor::getName)
        .toList();
  }

  /**
   * Calls go round_robin over every address the target resolves to (one HTTP/2 connection would
   * pin them to one server); reads have no side effects, so the channel retries them on
   * UNAVAILABLE.
   */
  static Map<String, Object> serviceConfig() {
    List<Map<String, Object>> names = new ArrayList<>();
    for (String method : RETRIED_METHODS) {
      names.add(Map.of("service", ContextStoreServiceGrpc.SERVICE_NAME, "method", method));
    }
    Map<String, Object> retry =
        Map.of(
            "maxAttempts", 4.0,
            "initialBackoff", "0.05s",
            "maxBackoff", "1s",
            "backoffMultiplier", 2.0,
            "retryableStatusCodes", List.of("UNAVAILABLE"));
    return Map.of(
        "loadBalancingConfig", List.of(Map.of("round_robin", Map.of())),
        "methodConfig", List.of(Map.of("name", names, "retryPolicy", retry)));
  }
}
