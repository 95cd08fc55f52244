/**
 * API keys. `Authorization: Bearer <key>`; keys carry scopes and are stored as SHA-256 hashes.
 * The bootstrap admin key is the secret FSTORE_ADMIN_KEY; without it FStore refuses to serve.
 *
 * Scopes: `read` reads; `write` pushes values and registers push features (and reads); `admin` can
 * do everything, including connectors, keys, deleting features, and defining or changing a feature
 * bound to a source (a query, a path or a topic on a connector). The whole table is docs/api.md#scopes;
 * the rules are here, in one place: `grants` (the order of scopes) and `scopeToDefine` (which
 * definitions need admin), used by the API and the dashboard alike.
 */
import type { MiddlewareHandler } from "hono";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Context } from "hono";
import { apiKeys, type Scope } from "./db/schema";
import type { AppEnv, Principal } from "./env";
import { ApiError } from "./errors";
import { usageOf } from "./invocation";
import { sourceTypeOf } from "./registry/sources";

export const MIN_ADMIN_KEY_LENGTH = 16;
const KEY_PREFIX = "fsk_";

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function randomToken(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...buf)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A new key: its public id, the secret key (shown once) and the hash to store. */
export async function generateKey(): Promise<{ id: string; key: string; hash: string }> {
  // Hex, so an id never starts with '-' (a command line would read it as an option) or '_'.
  const id = [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const key = `${KEY_PREFIX}${id}_${randomToken(32)}`;
  return { id, key, hash: await sha256Hex(key) };
}

/** Whether keys holding `held` may do what needs `needed` (the API's rule; the dashboard applies it too). */
export const grants = (held: readonly Scope[], needed: Scope) =>
  held.includes("admin") || held.includes(needed) || (needed === "read" && held.includes("write"));

/**
 * The scope needed to register, or change, a feature with these source fields. A feature whose
 * values come from a source — a SQL query, a data-lake path, a stream topic, on a connector an
 * admin created — reads that source with the connector's credentials, and its values are then
 * visible to every read key: so defining one is as powerful as holding the connector's credentials,
 * and needs admin. A push feature only receives what write keys push: write.
 */
export const scopeToDefine = (source: Record<string, unknown>): Scope => (sourceTypeOf(source) === "push" && source.connector === undefined ? "write" : "admin");

/** Refuses (403) the request's principal unless it holds `scope` (for checks that depend on the request's body). */
export function assertScope(c: Context<AppEnv>, scope: Scope, what: string): void {
  const principal = c.get("principal");
  if (!grants(principal.scopes, scope)) {
    throw new ApiError("FORBIDDEN", `This key lacks the '${scope}' scope needed to ${what}`, { required: scope, held: principal.scopes });
  }
}

/**
 * Keys looked up in D1 are remembered per isolate for a short while so the hot path does not pay a
 * D1 read on every request. A revoked key therefore stops working everywhere within KEY_CACHE_MS
 * (at once in the isolate that revoked it).
 */
const KEY_CACHE_MS = 30_000;
const keyCache = new Map<string, { principal: Principal | null; until: number }>();

export function forgetCachedKeys(): void {
  keyCache.clear();
}

async function lookupKey(db: D1Database, hash: string): Promise<Principal | null> {
  const cached = keyCache.get(hash);
  if (cached && cached.until > Date.now()) return cached.principal;
  const row = await drizzle(db).select().from(apiKeys).where(eq(apiKeys.hash, hash)).get();
  const principal = row && row.revokedAt === null ? { keyId: row.id, scopes: row.scopes } : null;
  if (keyCache.size > 10_000) keyCache.clear();
  keyCache.set(hash, { principal, until: Date.now() + KEY_CACHE_MS });
  return principal;
}

/** The admin key's hash, computed once per isolate (and again only if the secret changes). */
let adminHash: { key: string; hash: Promise<string> } | undefined;
function adminKeyHash(key: string): Promise<string> {
  if (adminHash?.key !== key) adminHash = { key, hash: sha256Hex(key) };
  return adminHash.hash;
}

function timingSafeEqualHex(a: string, b: string): boolean {
  const enc = new TextEncoder();
  const x = enc.encode(a), y = enc.encode(b);
  return x.byteLength === y.byteLength && crypto.subtle.timingSafeEqual(x, y);
}

/** Refuses to serve until a usable admin key is configured. */
export function assertConfigured(adminKey: string | undefined): asserts adminKey is string {
  if (!adminKey || adminKey.length < MIN_ADMIN_KEY_LENGTH) {
    throw new ApiError(
      "NOT_CONFIGURED",
      `FStore has no admin key configured, so it refuses to serve. Set the secret FSTORE_ADMIN_KEY (at least ${MIN_ADMIN_KEY_LENGTH} characters): 'wrangler secret put FSTORE_ADMIN_KEY' in production, or run 'npm run dev', which writes one to .dev.vars.`,
    );
  }
}

async function authenticate(env: AppEnv["Bindings"], authorization: string | undefined): Promise<Principal> {
  const adminKey = env.FSTORE_ADMIN_KEY;
  assertConfigured(adminKey);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) throw new ApiError("UNAUTHORIZED", "Missing API key: send 'Authorization: Bearer <key>'");
  const hash = await sha256Hex(match[1] as string);
  const principal: Principal | null = timingSafeEqualHex(hash, await adminKeyHash(adminKey))
    ? { keyId: "bootstrap-admin", scopes: ["admin"] }
    : await lookupKey(env.DB, hash);
  if (!principal) throw new ApiError("UNAUTHORIZED", "Unknown or revoked API key");
  return principal;
}

/** Authenticates the bearer key and checks it grants `scope`; refuses everything while unconfigured. */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = await usageOf(c.env).phaseAsync("auth", () => authenticate(c.env, c.req.header("authorization")));
    if (!grants(principal.scopes, scope)) {
      throw new ApiError("FORBIDDEN", `This key lacks the '${scope}' scope needed here`, { required: scope, held: principal.scopes });
    }
    c.set("principal", principal);
    await next();
  };
}
