/** In-process contextstore servers for the tests that need one (`make test`). */
import * as grpc from "@grpc/grpc-js";

import * as pb from "../src/gen/contextstore/v1/context_store";

/**
 * Serves `implementation` on a free port of 127.0.0.1 (other RPCs: UNIMPLEMENTED), in plaintext
 * unless `credentials` say otherwise; `target` is `127.0.0.1:<port>`.
 */
export async function serve(
  implementation: Partial<pb.ContextStoreServiceServer>,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<{ target: string; port: number; stop: () => void }> {
  const server = new grpc.Server();
  server.addService(pb.ContextStoreServiceService, implementation as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { target: `127.0.0.1:${port}`, port, stop: () => server.forceShutdown() };
}
