package dev.contextstore.client;

import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;

/**
 * Real certificates for the TLS tests, as PEM files in a test's temporary folder (the shape of
 * tests/certs.py): a CA, a server certificate naming localhost and 127.0.0.1, and client
 * certificates whose CN and DNS SAN are the given name.
 */
final class TestPki {
  /** A certificate file and its private key file (PKCS#8 PEM). */
  record Pair(Path cert, Path key) {}

  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path directory;
  private final String name;
  private final X500Name caName;
  private final KeyPair caKeys;
  final Path caFile;
  final Pair server;
  private boolean traditional; // write the next key as SEC1, not PKCS#8

  private TestPki(Path directory, String name) throws IOException, GeneralSecurityException {
    this.directory = directory;
    this.name = name;
    this.caName = new X500Name("CN=contextstore tests " + name);
    this.caKeys = keys();
    X509CertificateHolder ca =
        sign(
            builder(caName, caKeys, caName)
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .addExtension(
                    Extension.keyUsage,
                    true,
                    new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign)));
    this.caFile = directory.resolve(name + ".pem");
    pem(caFile, ca);
    this.server =
        issue(
            "localhost",
            "server",
            new GeneralName(GeneralName.dNSName, "localhost"),
            new GeneralName(GeneralName.iPAddress, "127.0.0.1"));
  }

  /** A new CA in {@code directory}; {@code name} tells two CAs apart. */
  static TestPki make(Path directory, String name) throws IOException, GeneralSecurityException {
    Files.createDirectories(directory);
    return new TestPki(directory, name);
  }

  /** A client certificate whose CN and DNS SAN are both {@code subject}. */
  Pair client(String subject) throws IOException, GeneralSecurityException {
    return issue(subject, "client-" + subject, new GeneralName(GeneralName.dNSName, subject));
  }

  /**
   * {@link #client(String)} with the key in the traditional SEC1 form ("BEGIN EC PRIVATE KEY"),
   * as trustme and {@code openssl ecparam -genkey} write it, instead of PKCS#8.
   */
  Pair clientWithSec1Key(String subject) throws IOException, GeneralSecurityException {
    traditional = true;
    try {
      return issue(subject, "sec1-" + subject, new GeneralName(GeneralName.dNSName, subject));
    } finally {
      traditional = false;
    }
  }

  /** A server certificate naming the IP address {@code ip} only. */
  Pair serverFor(String ip) throws IOException, GeneralSecurityException {
    return issue(ip, "server-" + ip, new GeneralName(GeneralName.iPAddress, ip));
  }

  private Pair issue(String commonName, String stem, GeneralName... names)
      throws IOException, GeneralSecurityException {
    KeyPair keys = keys();
    X509CertificateHolder cert =
        sign(
            builder(new X500Name("CN=" + commonName), keys, caName)
                .addExtension(Extension.basicConstraints, false, new BasicConstraints(false))
                .addExtension(
                    Extension.extendedKeyUsage,
                    false,
                    new ExtendedKeyUsage(
                        new KeyPurposeId[] {
                          KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth
                        }))
                .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names)));
    Pair pair =
        new Pair(
            directory.resolve(name + "-" + stem + ".pem"),
            directory.resolve(name + "-" + stem + "-key.pem"));
    pem(pair.cert(), cert);
    try (Writer out = Files.newBufferedWriter(pair.key());
        JcaPEMWriter writer = new JcaPEMWriter(out)) {
      if (traditional) {
        // SEC1 with the curve named inside, as openssl writes it (the JDK's PKCS#8 keeps the
        // curve in the outer algorithm identifier only).
        PrivateKeyInfo info = PrivateKeyInfo.getInstance(keys.getPrivate().getEncoded());
        ECPrivateKey inner = ECPrivateKey.getInstance(info.parsePrivateKey());
        ECPrivateKey sec1 =
            new ECPrivateKey(256, inner.getKey(), info.getPrivateKeyAlgorithm().getParameters());
        writer.writeObject(new PemObject("EC PRIVATE KEY", sec1.getEncoded()));
      } else {
        writer.writeObject(new JcaPKCS8Generator(keys.getPrivate(), null)); // PKCS#8
      }
    }
    return pair;
  }

  private static X509v3CertificateBuilder builder(X500Name subject, KeyPair keys, X500Name issuer) {
    Instant now = Instant.now();
    return new JcaX509v3CertificateBuilder(
        issuer,
        new BigInteger(64, RANDOM).add(BigInteger.ONE),
        Date.from(now.minus(Duration.ofMinutes(1))),
        Date.from(now.plus(Duration.ofDays(1))),
        subject,
        keys.getPublic());
  }

  private X509CertificateHolder sign(X509v3CertificateBuilder builder) throws IOException {
    try {
      return builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate()));
    } catch (OperatorCreationException error) {
      throw new IOException(error);
    }
  }

  private static KeyPair keys() throws GeneralSecurityException {
    // P-256: quick to generate, unlike RSA, and read by every TLS stack here.
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"));
    return generator.generateKeyPair();
  }

  private static void pem(Path file, X509CertificateHolder object) throws IOException {
    try (Writer out = Files.newBufferedWriter(file);
        JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(object);
    }
  }
}
