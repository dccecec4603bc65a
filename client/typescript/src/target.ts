/**
 * Target strings, as the client's constructor takes them and grpc-js reads them.
 *
 * - One address (`"127.0.0.1:50051"`, `"localhost:50051"`) or a URI grpc-js resolves itself
 *   (`"dns:///name:port"`, `"ipv4:..."`, `"unix:///path"`): handed to grpc-js as is. A DNS name
 *   with several addresses gives the channel all of them.
 * - A comma-separated list of IP addresses with their ports (`"127.0.0.1:50051,127.0.0.1:50052"`,
 *   `"[::1]:50051,[::1]:50052"`): rewritten as grpc-js's own `ipv4:` / `ipv6:` list.
 *
 * Either way the channel's `round_robin` policy spreads calls over every address. A list takes IP
 * literals only, never host names: grpc-js's list resolvers cannot look names up, and a name looked
 * up once here would never follow a change of address; a name with several addresses is one
 * `dns:///name:port` target instead. A list is one address family (grpc-js has no mixed list).
 */

import { experimental } from "@grpc/grpc-js";
import { isIPv4, isIPv6 } from "node:net";

/** The schemes grpc-js registers a resolver for: a target naming one is grpc-js's to read. */
const SCHEMES: readonly string[] = ["dns:", "ipv4:", "ipv6:", "unix:"];

type Family = "ipv4" | "ipv6";

interface ListedAddress {
  family: Family;
  /** `host:port`, the host bracketed when IPv6: the form grpc-js's list resolvers read. */
  text: string;
}

/**
 * The target grpc-js is given for `target`: a list of addresses as an `ipv4:` or `ipv6:` URI,
 * anything else unchanged. Throws a TypeError naming the entry for a list it cannot take.
 */
export function channelTarget(target: string): string {
  if (SCHEMES.some((scheme) => target.startsWith(scheme)) || !target.includes(",")) return target;
  const addresses = target.split(",").map((entry) => listedAddress(target, entry.trim()));
  const families = new Set(addresses.map((a) => a.family));
  const [family] = families;
  if (family === undefined || families.size > 1) {
    throw new TypeError(`target ${JSON.stringify(target)} mixes IPv4 and IPv6 addresses: list one family`);
  }
  return `${family}:${addresses.map((a) => a.text).join(",")}`;
}

function listedAddress(target: string, entry: string): ListedAddress {
  const refuse = (why: string): TypeError =>
    new TypeError(`target ${JSON.stringify(target)}: ${JSON.stringify(entry)} ${why}`);
  const parsed = entry === "" ? null : experimental.splitHostPort(entry);
  if (parsed === null) throw refuse("is not an address (HOST:PORT, [IPV6]:PORT)");
  if (parsed.port === undefined) throw refuse("has no port: every address of a list needs one");
  if (parsed.port < 1 || parsed.port > 65535) throw refuse("has no valid port (1 to 65535)");
  if (isIPv4(parsed.host)) return { family: "ipv4", text: `${parsed.host}:${parsed.port}` };
  if (isIPv6(parsed.host)) return { family: "ipv6", text: `[${parsed.host}]:${parsed.port}` };
  throw refuse("is not an IP address: a list takes IP addresses; for a host name use dns:///NAME:PORT");
}
