// The README's "Connecting securely" example: mTLS and a bearer token. `make build` type-checks it;
// `node build/examples/secure.js HOST:PORT CA CERT KEY` runs it.
import { ContextStoreClient } from "@contextstore/client";

async function main(target = "127.0.0.1:50051", ca = "ca.pem", cert = "agent-7.pem", key = "agent-7-key.pem") {
  const client = new ContextStoreClient(target, {
    tls: { ca, cert, key }, // ca absent: the system roots; cert and key: both or neither
    token: process.env.MY_CACHE_TOKEN, // left out or undefined: CONTEXTSTORE_TOKEN is read
  });
  try {
    console.log(await client.session("team-a/build-17").stats());
  } finally {
    client.close();
  }
}

const [target, ca, cert, key] = process.argv.slice(2);
main(target, ca, cert, key).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
