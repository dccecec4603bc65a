package dev.contextstore.client;

import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.util.io.pem.PemObject;

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
      byte[] pkcs8 = pkcs8(key.get());
      try (InputStream chain = Files.newInputStream(cert.get())) {
        builder.keyManager(chain, new ByteArrayInputStream(pkcs8));
      } catch (IOException | RuntimeException error) {
        throw unreadable("client certificate", cert.get(), error);
      }
    }
    return builder.build();
  }

  /**
   * The unencrypted private key of a PEM file as PKCS#8 PEM, the only form grpc-java reads,
   * whether the file holds PKCS#8 ("BEGIN PRIVATE KEY"), PKCS#1 ("BEGIN RSA PRIVATE KEY") or SEC1
   * ("BEGIN EC PRIVATE KEY").
   */
  private static byte[] pkcs8(Path file) {
    Object parsed;
    try (PEMParser parser = new PEMParser(Files.newBufferedReader(file, StandardCharsets.US_ASCII))) {
      parsed = parser.readObject();
    } catch (IOException | RuntimeException error) {
      throw unreadable("key", file, error);
    }
    PrivateKeyInfo info;
    if (parsed instanceof PEMKeyPair pair) {
      info = pair.getPrivateKeyInfo();
    } else if (parsed instanceof PrivateKeyInfo plain) {
      info = plain;
    } else {
      throw unreadable(
          "key",
          file,
          new IOException("no unencrypted private key (PKCS#8, PKCS#1 or SEC1 PEM) in it"));
    }
    StringWriter pem = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(pem)) {
      writer.writeObject(new PemObject("PRIVATE KEY", info.getEncoded()));
    } catch (IOException error) {
      throw unreadable("key", file, error);
    }
    return pem.toString().getBytes(StandardCharsets.US_ASCII);
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
