/**
 * TLS settings and the bearer token, as the client's options take them and grpc-js applies them.
 *
 * - `tls: { ca, cert, key }`: TLS, trusting the PEM CA bundle `ca` (the system roots when absent);
 *   `cert` and `key` (both or neither) are the client certificate and its key, for mTLS. Without
 *   `tls` the channel is plaintext. The server's certificate is verified against the host dialled
 *   (for a list of addresses, grpc-js checks every server against the list's first address).
 * - `token`: sent on every call as `authorization: Bearer <token>`. When the option is absent the
 *   environment variable `CONTEXTSTORE_TOKEN` is read; an empty token sends nothing. Over TLS it
 *   goes as call credentials; on a plaintext channel (which only makes sense on loopback) as the
 *   same header added by an interceptor, since grpc-js refuses call credentials on an insecure
 *   channel.
 */

import { readFileSync } from "node:fs";

import * as grpc from "@grpc/grpc-js";

/** The environment variable read for the token when the `token` option is absent. */
export const TOKEN_ENV = "CONTEXTSTORE_TOKEN";

export interface TlsOptions {
  /** PEM file of the CA certificates to trust; the system roots when absent. */
  ca?: string;
  /** PEM file of the client certificate (chain), for mTLS; needs `key`. */
  cert?: string;
  /** PEM file of the client certificate's private key; needs `cert`. */
  key?: string;
}

/** The token to send: the option when given (even empty), else the environment's; "" = none. */
export function resolveToken(token: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return token ?? env[TOKEN_ENV] ?? "";
}

function read(path: string | undefined, what: string): Buffer | null {
  if (path === undefined) return null;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read the TLS ${what} file ${JSON.stringify(path)}: ${(error as Error).message}`);
  }
}

/** grpc-js TLS credentials for `tls`; a certificate without its key (or the reverse) is a TypeError. */
export function tlsCredentials(tls: TlsOptions): grpc.ChannelCredentials {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("tls.cert and tls.key go together: give both (mTLS) or neither");
  }
  return grpc.credentials.createSsl(read(tls.ca, "CA"), read(tls.key, "key"), read(tls.cert, "certificate"));
}

function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** Call credentials that put the token on every call (grpc-js sends them over TLS only). */
export function tokenCallCredentials(token: string): grpc.CallCredentials {
  return grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", bearer(token));
    callback(null, metadata);
  });
}

/** An interceptor that adds the token's header to every call: the plaintext channel's way. */
export function tokenInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", bearer(token));
        next(metadata, listener);
      },
    });
}

/** What the channel is built with: its credentials and the interceptors that carry the token. */
export interface ChannelSecurity {
  credentials: grpc.ChannelCredentials;
  interceptors: grpc.Interceptor[];
}

/**
 * The channel's security from the client's options: TLS (`tls`, or ready-made `credentials`) or
 * plaintext, and the token as call credentials over TLS or an interceptor on plaintext.
 */
export function channelSecurity(options: {
  tls?: TlsOptions;
  credentials?: grpc.ChannelCredentials;
  token?: string | undefined;
}): ChannelSecurity {
  if (options.tls !== undefined && options.credentials !== undefined) {
    throw new TypeError("give tls or credentials, not both");
  }
  const token = resolveToken(options.token);
  const credentials =
    options.tls !== undefined ? tlsCredentials(options.tls) : (options.credentials ?? grpc.credentials.createInsecure());
  if (token === "") return { credentials, interceptors: [] };
  // grpc-js composes call credentials with secure channel credentials only (compose() throws
  // for insecure ones, and would never send them on plaintext): there the interceptor adds it.
  if (!credentials._isSecure()) return { credentials, interceptors: [tokenInterceptor(token)] };
  return { credentials: credentials.compose(tokenCallCredentials(token)), interceptors: [] };
}
