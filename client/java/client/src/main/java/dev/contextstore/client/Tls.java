package dev.contextstore.client;

import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * TLS settings of a client: the CA certificates to trust (a PEM bundle file, or the system
 * roots) and, for mTLS, a client certificate and its key (PEM files, both or neither). The
 * server's certificate is verified against the host dialled.
 *
 * <pre>{@code
 * Tls.trusting(Path.of("ca.pem")).withClientCertificate(Path.of("agent.pem"), Path.of("agent-key.pem"))
 * }</pre>
 */
public final class Tls {
  private final Optional<Path> ca;
  private final Optional<Path> cert;
  private final Optional<Path> key;

  private Tls(Optional<Path> ca, Optional<Path> cert, Optional<Path> key) {
    this.ca = ca;
    this.cert = cert;
    this.key = key;
  }

  /** TLS trusting the system's root certificates. */
  public static Tls systemRoots() {
    return new Tls(Optional.empty(), Optional.empty(), Optional.empty());
  }

  /** TLS trusting the CA certificates of the PEM file {@code caFile} (and only those). */
  public static Tls trusting(Path caFile) {
    return new Tls(Optional.of(caFile), Optional.empty(), Optional.empty());
  }

  /** These settings, presenting a client certificate (chain) and its private key: mTLS. */
  public Tls withClientCertificate(Path certFile, Path keyFile) {
    return new Tls(
        ca,
        Optional.of(Objects.requireNonNull(certFile, "certFile")),
        Optional.of(Objects.requireNonNull(keyFile, "keyFile")));
  }

  /** The PEM CA bundle trusted; empty: the system roots. */
  public Optional<Path> ca() {
    return ca;
  }

  /** The client certificate file, with {@link #key()}; empty without mTLS. */
  public Optional<Path> cert() {
    return cert;
  }

  /** The client certificate's private key file; empty without mTLS. */
  public Optional<Path> key() {
    return key;
  }

  /**
   * grpc-java's credentials for these settings, the files read now.
   *
   * @throws UncheckedIOException naming the file that cannot be read or parsed
   */
  ChannelCredentials credentials() {
    TlsChannelCredentials.Builder builder = TlsChannelCredentials.newBuilder();
    if (ca.isPresent()) {
      Path file = ca.get();
      try {
        builder.trustManager(file.toFile());
      } catch (IOException | RuntimeException error) {
        throw unreadable("CA", file, error);
      }
    }
    if (cert.isPresent() && key.isPresent()) {
      try {
        builder.keyManager(cert.get().toFile(), key.get().toFile());
      } catch (IOException | RuntimeException error) {
        throw unreadable("client certificate or key", cert.get(), error);
      }
    }
    return builder.build();
  }

  private static UncheckedIOException unreadable(String what, Path file, Exception error) {
    IOException cause = error instanceof IOException io ? io : new IOException(error);
    return new UncheckedIOException(
        "cannot read the TLS " + what + " file " + file + ": " + error.getMessage(), cause);
  }

  @Override
  public String toString() {
    return "Tls[ca=" + ca.map(Path::toString).orElse("system roots")
        + cert.map(c -> ", cert=" + c + ", key=" + key.orElseThrow()).orElse("") + "]";
  }
}
