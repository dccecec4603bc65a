// How a target string reaches grpc-js (src/target.ts): `make test` (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ContextStoreClient } from "../src/client";
import { channelTarget } from "../src/target";

test("one address or a URI grpc-js resolves is handed over unchanged", () => {
  for (const target of [
    "127.0.0.1:50051",
    "localhost:50051",
    "[::1]:50051",
    "dns:///contextstore.internal:50051",
    "dns:///a:1,b:2", // a scheme: grpc-js's to read, commas included
    "ipv4:127.0.0.1:1,127.0.0.2:2",
    "unix:///run/contextstore.sock",
  ]) {
    assert.equal(channelTarget(target), target);
  }
});

test("a list of IPv4 addresses becomes grpc-js's ipv4: list", () => {
  assert.equal(channelTarget("127.0.0.1:50051,127.0.0.1:50052"), "ipv4:127.0.0.1:50051,127.0.0.1:50052");
  assert.equal(channelTarget(" 10.0.0.1:1 , 10.0.0.2:2 "), "ipv4:10.0.0.1:1,10.0.0.2:2");
});

test("a list of IPv6 addresses becomes grpc-js's ipv6: list, bracketed", () => {
  assert.equal(channelTarget("[::1]:50051,[fe80::1]:50052"), "ipv6:[::1]:50051,[fe80::1]:50052");
});

test("a list it cannot take is refused, naming the entry", () => {
  const refusals: [string, RegExp][] = [
    ["localhost:50051,localhost:50052", /"localhost:50051" is not an IP address.*dns:\/\/\//],
    ["127.0.0.1:50051,127.0.0.1", /"127.0.0.1" has no port/],
    ["127.0.0.1:50051,[::1]", /"\[::1\]" has no port/],
    ["127.0.0.1:50051,::1", /"::1" has no port/],
    ["127.0.0.1:50051,127.0.0.1:0", /"127.0.0.1:0" has no valid port/],
    ["127.0.0.1:50051,127.0.0.1:70000", /"127.0.0.1:70000" has no valid port/],
    ["127.0.0.1:50051,", /"" is not an address/],
    ["127.0.0.1:50051,127.0.0.1:x", /"127.0.0.1:x" is not an address/],
    ["127.0.0.1:50051,[::1]:50052", /mixes IPv4 and IPv6/],
  ];
  for (const [target, message] of refusals) {
    assert.throws(() => channelTarget(target), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, message);
      assert.ok(error.message.includes(JSON.stringify(target)), error.message);
      return true;
    });
  }
});

test("the client's constructor refuses such a list before opening a channel", () => {
  assert.throws(() => new ContextStoreClient("db1:50051,db2:50051"), /"db1:50051" is not an IP address/);
});
