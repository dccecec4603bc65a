/**
 * Real certificates for the TLS tests, made with node-forge in a temporary folder (the shape of
 * tests/certs.py): a CA, a server certificate naming localhost and 127.0.0.1, and client
 * certificates whose CN and DNS SAN are the given name. Keys come from node:crypto (fast, native).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import forge from "node-forge";

export interface KeyPair {
  cert: string;
  key: string;
  certPem: Buffer;
  keyPem: Buffer;
}

interface Issuer {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

type AltName = { type: 2; value: string } | { type: 7; ip: string };

function rsaKeys(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; pem: string } {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), pem: privateKey };
}

function certificate(
  subject: string,
  publicKey: forge.pki.rsa.PublicKey,
  issuer: Issuer | undefined,
  signer: forge.pki.rsa.PrivateKey,
  extensions: object[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(8).toString("hex")}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: "commonName", value: subject }]);
  cert.setIssuer(issuer === undefined ? cert.subject.attributes : issuer.cert.subject.attributes);
  cert.setExtensions(extensions);
  cert.sign(signer, forge.md.sha256.create());
  return cert;
}

export class Pki {
  readonly caFile: string;
  readonly caPem: Buffer;
  readonly server: KeyPair;
  private readonly ca: Issuer;

  private constructor(
    readonly directory: string,
    private readonly name: string,
  ) {
    const keys = rsaKeys();
    const cert = certificate(`contextstore tests ${name}`, keys.publicKey, undefined, keys.privateKey, [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ]);
    this.ca = { cert, key: keys.privateKey };
    this.caPem = Buffer.from(forge.pki.certificateToPem(cert));
    this.caFile = join(directory, `${name}.pem`);
    writeFileSync(this.caFile, this.caPem);
    this.server = this.issue("localhost", [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }], "server");
  }

  /** A CA in a new temporary folder; `name` tells two CAs apart. */
  static make(name = "ca"): Pki {
    return new Pki(mkdtempSync(join(tmpdir(), "contextstore-pki-")), name);
  }

  /** A client certificate whose CN and DNS SAN are both `subject`. */
  client(subject: string): KeyPair {
    return this.issue(subject, [{ type: 2, value: subject }], `client-${subject}`);
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }

  private issue(subject: string, altNames: AltName[], stem: string): KeyPair {
    const keys = rsaKeys();
    const cert = certificate(subject, keys.publicKey, this.ca, this.ca.key, [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true, clientAuth: true },
      { name: "subjectAltName", altNames },
    ]);
    const pair: KeyPair = {
      cert: join(this.directory, `${this.name}-${stem}.pem`),
      key: join(this.directory, `${this.name}-${stem}-key.pem`),
      certPem: Buffer.from(forge.pki.certificateToPem(cert)),
      keyPem: Buffer.from(keys.pem),
    };
    writeFileSync(pair.cert, pair.certPem);
    writeFileSync(pair.key, pair.keyPem);
    return pair;
  }
}
