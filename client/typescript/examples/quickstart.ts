// The README's example, compiled by `make build` so that it keeps compiling.
// Run it against a server: node build/examples/quickstart.js [HOST:PORT]
import { ContextStoreClient, ContextStoreError, Status } from "@contextstore/client";

async function main(target = "127.0.0.1:50051"): Promise<void> {
  const client = new ContextStoreClient(target); // every call: a 10 s deadline by default
  try {
    const agent = client.session("agent-42"); // a handle bound to one session
    const meta = await agent.cacheFile("src/app.py", "print('hi')\n", { labels: { lang: "python" } });
    console.log(meta.size, meta.sha256.toString("hex"), meta.version); // int64 fields are bigint

    const file = await agent.getFile("src/app.py");
    console.log(file?.content.toString("utf8"), file?.metadata.labels);

    await agent.cacheAnalysis("src/app.py", "ast", "<serialized tree>");
    console.log((await agent.getAnalysis("src/app.py", "ast"))?.result.toString());
    console.log(await agent.invalidateAnalysis("src/app.py", "ast")); // 1n; invalidateAnalyses(path): every type

    // A miss is undefined, not an error; the global namespace (client itself) is another namespace.
    console.log(await agent.getFile("missing.py")); // undefined
    console.log(await client.getMetadata("src/app.py")); // the global namespace's own entry, if any

    try {
      await agent.cacheFile("", "");
    } catch (error) {
      if (!(error instanceof ContextStoreError) || error.code !== Status.INVALID_ARGUMENT) throw error;
      console.log(error.fieldViolations); // [ { field: 'path', description: 'must not be empty' } ]
    }

    console.log((await agent.stats()).files, (await client.storeStats()).files); // this session's, the whole store's
    console.log((await client.serverInfo()).backendProperties); // { stripes: '64', eviction: '...' }
    console.log(await agent.clearSession()); // { filesRemoved: 1n, analysesRemoved: 0n, revision }
  } finally {
    client.close();
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
