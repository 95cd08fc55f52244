/**
 * The egress policy: which addresses a connector may reach. A connector config names hosts (a
 * database `host`, a `ws_proxy`, an S3 or Azure `endpoint`); a key with admin scope could otherwise
 * point FStore at the cloud metadata service, at the machine it runs on or at a private network
 * and read what answers. By default only public addresses are allowed:
 *
 * - refused: loopback (127.0.0.0/8, ::1, `localhost`), private (10/8, 172.16/12, 192.168/16,
 *   100.64/10, fc00::/7, and names only a private network resolves: one label, `.internal`,
 *   `.local`, `.lan`, `.home.arpa`, ...), link-local (169.254/16, fe80::/10) and reserved ranges
 *   (0/8, multicast, broadcast, documentation, NAT64/6to4/Teredo embeddings, ...);
 * - never allowed, whatever the setting: cloud metadata endpoints (169.254.169.254,
 *   169.254.170.2, fd00:ec2::254, 100.100.100.200, metadata.google.internal, ...).
 *
 * `FSTORE_EGRESS_ALLOW` (a Worker var, comma-separated) opens exceptions: `loopback` (what
 * `npm run dev`, the tests and the e2e `wrangler dev` set), `private`, CIDR ranges (`10.1.0.0/16`),
 * addresses, and host names (`db.internal`, `*.corp.example`) taken as they are, unresolved.
 *
 * Hosts are read the way the connection will read them: WHATWG URL host parsing turns `2130706433`,
 * `0x7f.1` or `127.1` into 127.0.0.1 before anything is classified. A host name is resolved
 * (DNS over HTTPS, `FSTORE_DNS_RESOLVER`, default Cloudflare's) when a connector is about to
 * connect, and every address it resolves to must be allowed too; a name that cannot be resolved is
 * refused (fail closed). What resolution cannot close: a name that answers differently to the
 * check and to the connection a moment later (DNS rebinding). On Cloudflare's network private
 * ranges are unreachable anyway; a self-hosted workerd needs a network-level egress filter too.
 */
import ipaddr from "ipaddr.js";
import { SourceError, type Endpoint } from "./types";

export type AddressCategory = "public" | "loopback" | "private" | "link-local" | "reserved" | "metadata";

export interface EgressPolicy {
  loopback: boolean;
  private: boolean;
  ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][];
  names: string[];
  /** DNS-over-HTTPS JSON endpoint used to resolve host names. */
  resolver: string;
}

export const DEFAULT_RESOLVER = "https://cloudflare-dns.com/dns-query";
export const EGRESS_SETTING = "FSTORE_EGRESS_ALLOW";

const METADATA_ADDRESSES = new Set(["169.254.169.254", "169.254.170.2", "169.254.169.253", "100.100.100.200", "192.0.0.192", "fd00:ec2::254", "fd00:ec2::23"]);
const METADATA_NAMES = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal", "metadata.tencentyun.com"]);
const PRIVATE_SUFFIXES = [".internal", ".local", ".localdomain", ".lan", ".home.arpa", ".intranet", ".corp", ".private"];

/** The policy of a deployment from its settings; unknown entries are ignored (and named by `egressSettingProblems`). */
export function parseEgressPolicy(allow: string | undefined, resolver: string | undefined): EgressPolicy {
  const policy: EgressPolicy = { loopback: false, private: false, ranges: [], names: [], resolver: resolver?.trim() || DEFAULT_RESOLVER };
  for (const raw of (allow ?? "").split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "loopback") policy.loopback = true;
    else if (entry === "private") policy.private = true;
    else if (entry.includes("/") && ipaddr.isValidCIDR(entry)) policy.ranges.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry)) {
      const addr = ipaddr.parse(entry);
      policy.ranges.push([addr, addr.kind() === "ipv4" ? 32 : 128]);
    } else if (/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/.test(entry)) policy.names.push(entry.replace(/\.$/, ""));
  }
  return policy;
}

type Host = { kind: "ip"; addr: ipaddr.IPv4 | ipaddr.IPv6; text: string } | { kind: "name"; name: string } | { kind: "invalid" };

/** Reads a host as a connection would: WHATWG URL host parsing (numeric IPv4 forms, IDNA, case). */
export function parseHost(raw: string): Host {
  const host = raw.trim();
  if (host === "" || host.length > 253 || /[\s/\\@?#%]/.test(host)) return { kind: "invalid" };
  const v6 = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host.includes(":") ? host : null;
  if (v6 !== null) return ipaddr.IPv6.isValid(v6) ? ipOf(ipaddr.IPv6.parse(v6)) : { kind: "invalid" };
  let hostname: string;
  try {
    hostname = new URL(`http://${host}/`).hostname;
  } catch {
    return { kind: "invalid" };
  }
  const name = hostname.replace(/\.$/, "");
  if (ipaddr.IPv4.isValidFourPartDecimal(name)) return ipOf(ipaddr.IPv4.parse(name));
  return name === "" ? { kind: "invalid" } : { kind: "name", name };
}

function ipOf(addr: ipaddr.IPv4 | ipaddr.IPv6): Host {
  // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) reaches the IPv4 address.
  const plain = addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
  return { kind: "ip", addr: plain, text: plain.toString() };
}

/** What kind of address `addr` is. */
export function categoryOfAddress(addr: ipaddr.IPv4 | ipaddr.IPv6): AddressCategory {
  if (METADATA_ADDRESSES.has(addr.toNormalizedString()) || METADATA_ADDRESSES.has(addr.toString())) return "metadata";
  switch (addr.range()) {
    case "unicast":
      return "public";
    case "loopback":
      return "loopback";
    case "private":
    case "carrierGradeNat":
    case "uniqueLocal":
      return "private";
    case "linkLocal":
      return "link-local";
    default:
      return "reserved";
  }
}

function categoryOfName(name: string): AddressCategory {
  if (METADATA_NAMES.has(name)) return "metadata";
  if (name === "localhost" || name.endsWith(".localhost")) return "loopback";
  if (!name.includes(".") || PRIVATE_SUFFIXES.some((s) => name.endsWith(s))) return "private";
  return "public";
}

const nameAllowed = (policy: EgressPolicy, name: string) => policy.names.some((n) => (n.startsWith("*.") ? name.endsWith(n.slice(1)) : name === n));

function addressAllowed(policy: EgressPolicy, addr: ipaddr.IPv4 | ipaddr.IPv6, category: AddressCategory): boolean {
  if (category === "metadata") return false;
  if (category === "public") return true;
  if (category === "loopback" && policy.loopback) return true;
  if (category === "private" && policy.private) return true;
  return policy.ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
}

const describeCategory: Record<AddressCategory, string> = {
  public: "a public address",
  loopback: "a loopback address (this machine)",
  private: "a private-network address",
  "link-local": "a link-local address",
  reserved: "a reserved or special-purpose address",
  metadata: "a cloud metadata endpoint",
};

function refusal(endpoint: Endpoint, detail: string | null, category: AddressCategory): string {
  const fix =
    category === "metadata"
      ? "metadata endpoints are never allowed"
      : `allow it explicitly with the Worker var ${EGRESS_SETTING} (e.g. ${category === "loopback" ? "loopback" : category === "private" ? "private, or its range or name" : "its CIDR range"}; docs/connectors.md#egress-policy)`;
  return `${endpoint.field} '${endpoint.host.slice(0, 100)}'${detail ? ` (${detail})` : ""} is ${describeCategory[category]}; FStore's egress policy refuses it: ${fix}`;
}

/**
 * Why `endpoint` is refused without resolving names (the check made when a connector is created),
 * or null when it is allowed so far. Names that need resolution pass here and are resolved on connect.
 */
export function staticRefusal(policy: EgressPolicy, endpoint: Endpoint): string | null {
  const host = parseHost(endpoint.host);
  if (host.kind === "invalid") return `${endpoint.field} '${endpoint.host.slice(0, 100)}' is not a host name or an IP address`;
  if (host.kind === "ip") {
    const category = categoryOfAddress(host.addr);
    return addressAllowed(policy, host.addr, category) ? null : refusal(endpoint, host.text === endpoint.host.trim() ? null : `read as ${host.text}`, category);
  }
  const category = categoryOfName(host.name);
  if (category === "metadata") return refusal(endpoint, null, category);
  if (nameAllowed(policy, host.name)) return null;
  if (category === "loopback" && policy.loopback) return null;
  if (category === "private" && policy.private) return null;
  return category === "public" ? null : refusal(endpoint, null, category);
}

interface DohAnswer {
  Status?: number;
  Answer?: { type: number; data: string }[];
}

const RESOLVE_TIMEOUT_MS = 5000;
const resolved = new Map<string, { addresses: string[]; until: number }>();

/** A and AAAA addresses of `name` through DNS over HTTPS (JSON), remembered for 30 s per isolate. */
async function resolve(policy: EgressPolicy, name: string, fetcher: typeof fetch): Promise<string[]> {
  const cached = resolved.get(name);
  if (cached && cached.until > Date.now()) return cached.addresses;
  const addresses: string[] = [];
  for (const type of ["A", "AAAA"]) {
    let answer: DohAnswer;
    try {
      const res = await fetcher(`${policy.resolver}?${new URLSearchParams({ name, type })}`, {
        headers: { accept: "application/dns-json" },
        signal: AbortSignal.timeout(RESOLVE_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`the resolver answered ${res.status}`);
      answer = (await res.json()) as DohAnswer;
    } catch (err) {
      throw new SourceError("dns", `the host name could not be resolved: '${name}' (needed to check it against FStore's egress policy; resolver ${policy.resolver}: ${(err as Error)?.message ?? err})`);
    }
    if (answer.Status === 3) throw new SourceError("dns", `the host name could not be resolved: '${name}' does not exist (NXDOMAIN)`);
    for (const a of answer.Answer ?? []) if ((a.type === 1 || a.type === 28) && ipaddr.isValid(a.data)) addresses.push(a.data);
  }
  if (addresses.length === 0) throw new SourceError("dns", `the host name could not be resolved: '${name}' has no A or AAAA record`);
  if (resolved.size > 1000) resolved.clear();
  resolved.set(name, { addresses, until: Date.now() + 30_000 });
  return addresses;
}

/**
 * Refuses (SourceError kind `egress`, or `dns` when a name cannot be resolved) unless every
 * endpoint — and every address each host name resolves to — is allowed. Called right before a
 * connector connects.
 */
export async function assertEgressAllowed(policy: EgressPolicy, endpoints: Endpoint[], fetcher: typeof fetch = (i, init) => fetch(i, init)): Promise<void> {
  for (const endpoint of endpoints) {
    const problem = staticRefusal(policy, endpoint);
    if (problem) throw new SourceError("egress", problem);
    const host = parseHost(endpoint.host);
    if (host.kind !== "name" || nameAllowed(policy, host.name) || categoryOfName(host.name) !== "public") continue;
    for (const text of await resolve(policy, host.name, fetcher)) {
      const addr = ipOf(ipaddr.parse(text));
      if (addr.kind !== "ip") continue;
      const category = categoryOfAddress(addr.addr);
      if (!addressAllowed(policy, addr.addr, category)) throw new SourceError("egress", refusal(endpoint, `resolves to ${addr.text}`, category));
    }
  }
}
