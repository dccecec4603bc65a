// TLS, mTLS and the bearer token, against in-process grpc-js servers with real certificates.
import assert from "node:assert/strict";
import { after, test } from "node:test";

import * as grpc from "@grpc/grpc-js";

import { ContextStoreClient, type ClientOptions } from "../src/client";
import { ContextStoreError, Status } from "../src/errors";
import * as pb from "../src/gen/contextstore/v1/context_store";
import { TOKEN_ENV } from "../src/security";
import { serve as serveFake } from "./fake-server";
import { Pki } from "./pki";

const pki = Pki.make();
const otherPki = Pki.make("other");
after(() => {
  pki.remove();
  otherPki.remove();
});

/** What the server saw of one call: the authorization header and the client certificate's CN. */
interface Seen {
  authorization: string[];
  peer: string | undefined;
}

/** A GetStats-only server on 127.0.0.1: TLS with required client certificates, or plaintext. */
async function serve(tls: boolean): Promise<{ port: number; seen: Seen[]; stop: () => void }> {
  const seen: Seen[] = [];
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(
        pki.caPem,
        [{ private_key: pki.server.keyPem, cert_chain: pki.server.certPem }],
        true, // mTLS: a client without a certificate of this CA is refused
      )
    : grpc.ServerCredentials.createInsecure();
  const server = await serveFake(
    {
      getStats: (call, callback) => {
        const cn = call.getAuthContext().sslPeerCertificate?.subject.CN;
        const peer = Array.isArray(cn) ? cn.join(",") : cn;
        seen.push({ authorization: call.metadata.get("authorization").map(String), peer });
        callback(null, pb.GetStatsResponse.create());
      },
    },
    credentials,
  );
  return { ...server, seen };
}

async function withClient(target: string, options: ClientOptions, run: (c: ContextStoreClient) => Promise<void>) {
  const client = new ContextStoreClient(target, { timeoutMs: 5_000, ...options });
  try {
    await run(client);
  } finally {
    client.close();
  }
}

const agent = pki.client("agent-7");
const mtls = { ca: pki.caFile, cert: agent.cert, key: agent.key };

test("over mTLS the client sends its certificate and the token as a bearer header", async () => {
  const server = await serve(true);
  try {
    await withClient(`127.0.0.1:${server.port}`, { tls: mtls, token: "t-1" }, async (client) => {
      await client.stats();
    });
    assert.deepEqual(server.seen, [{ authorization: ["Bearer t-1"], peer: "agent-7" }]);
  } finally {
    server.stop();
  }
});

test("a server whose certificate another CA signed is refused: UNAVAILABLE, no call made", async () => {
  const server = await serve(true);
  try {
    const options = { tls: { ...mtls, ca: otherPki.caFile }, token: "t-1" };
    await withClient(`127.0.0.1:${server.port}`, options, async (client) => {
      await assert.rejects(
        client.stats({ timeoutMs: 2_000 }),
        (error: unknown) => error instanceof ContextStoreError && error.code === Status.UNAVAILABLE,
      );
    });
    assert.deepEqual(server.seen, []);
  } finally {
    server.stop();
  }
});

test("a client certificate without its key, or a key without its certificate, is refused", () => {
  for (const tls of [{ ca: pki.caFile, cert: agent.cert }, { ca: pki.caFile, key: agent.key }]) {
    assert.throws(() => new ContextStoreClient("127.0.0.1:1", { tls }), /tls.cert and tls.key go together/);
  }
  assert.throws(() => new ContextStoreClient("127.0.0.1:1", { tls: { ca: "/nonexistent/ca.pem" } }), /CA file/);
});

test("on plaintext the token is the option, else CONTEXTSTORE_TOKEN; an empty one sends nothing", async () => {
  const server = await serve(false);
  const saved = process.env[TOKEN_ENV];
  process.env[TOKEN_ENV] = "from-env";
  try {
    const target = `127.0.0.1:${server.port}`;
    for (const options of [{}, { token: "explicit" }, { token: "" }]) {
      await withClient(target, options, async (client) => {
        await client.session("s").stats();
      });
    }
    delete process.env[TOKEN_ENV];
    await withClient(target, {}, async (client) => {
      await client.stats();
    });
    assert.deepEqual(
      server.seen.map((s) => s.authorization),
      [["Bearer from-env"], ["Bearer explicit"], [], []],
    );
  } finally {
    if (saved === undefined) delete process.env[TOKEN_ENV];
    else process.env[TOKEN_ENV] = saved;
    server.stop();
  }
});

test("over TLS, a list of addresses reaches every server, each verified", async () => {
  const servers = await Promise.all([serve(true), serve(true)]);
  try {
    const target = servers.map((s) => `127.0.0.1:${s.port}`).join(",");
    await withClient(target, { tls: mtls, token: "t-2" }, async (client) => {
      for (let calls = 0; servers.some((s) => s.seen.length === 0) && calls < 200; calls++) await client.stats();
    });
    for (const server of servers) {
      assert.ok(server.seen.length > 0, "a server never answered");
      assert.deepEqual(server.seen[0], { authorization: ["Bearer t-2"], peer: "agent-7" });
    }
  } finally {
    for (const server of servers) server.stop();
  }
});

test("over TLS, a dns:/// target is verified against the name dialled", async () => {
  const server = await serve(true);
  try {
    await withClient(`dns:///localhost:${server.port}`, { tls: mtls }, async (client) => {
      await client.stats();
    });
    assert.equal(server.seen.length, 1);
  } finally {
    server.stop();
  }
});
