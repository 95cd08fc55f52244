/**
 * A seeded, property-based HTTP fuzz (fast-check) of every route in /openapi.json (the Feast routes
 * are in it) and of the dashboard's forms, with the hostile shapes of issue 13: JSON nested 100,000
 * levels, 1e400, NaN-like strings, lone surrogates, huge and multibyte ids, 11 MiB bodies, wrong
 * types, unknown and `__proto__` keys, path traversal in parameters, broken JSON, wrong content
 * types and keys. Two properties hold for every request:
 *
 * 1. no response is a 5xx;
 * 2. a rejected request (4xx) writes nothing: triggers on every D1 table count the rows inserted,
 *    updated or deleted, and the count must not move across a rejected request.
 *
 * Queue producers are recorded and dropped while fuzzing, so no background consumer writes to D1
 * between a request and its check. Connector configs only ever name loopback, private, reserved
 * or metadata hosts and test names (no public address): nothing leaves this machine.
 *
 * Seed: FSTORE_FUZZ_SEED (default below; route i uses seed + i); runs per route: FSTORE_FUZZ_RUNS
 * (default 150: about 7,500 requests, a few minutes on a 2-core machine). The
 * counts are printed at the end; a failure prints the seed and the request that failed.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import worker from "../src/index";
import { ADMIN_KEY, call, callJson, createKey } from "./helpers";
import { csrfOf, getPage, signIn, uiCall } from "./ui-helpers";

const SEED = Number(env.FSTORE_FUZZ_SEED) || 20_261_129;
const RUNS = Number(env.FSTORE_FUZZ_RUNS) || 150;
const ORIGIN = "http://fstore.test";

// --- hostile values ------------------------------------------------------------------------------

/** JSON text inserted verbatim where JSON.stringify cannot produce it (1e400, deep nesting, broken tokens). */
class RawJson {
  constructor(readonly text: string) {}
}

const deep = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;
const loneSurrogates = ["\ud800", "\udfff", "\ud800x", "x\udc00", "\udc00\ud800"];
const hostileStrings = [
  "", " ", ".", "..", "../", "../../keys", "..%2F..%2Fkeys", "%2e%2e", "a/b", "a\\b", "a?b=c", "a#b", "a%00b", "\u0000", "\u0007\u001f", "\u007f", "\u202e", "\ufeff", "\ufffe",
  ...loneSurrogates, "中".repeat(250), "é".repeat(256), "é".repeat(129), "😀".repeat(70), "x".repeat(257), "x".repeat(5000), "NaN", "Infinity", "-Infinity", "1e400",
  "-0", "null", "undefined", "true", "[]", "{}", "<script>alert(1)</script>", "' OR 1=1 --", "${7*7}", "{{7*7}}", "__proto__", "constructor", "batch",
  "2024-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+99:99", "fsk_0123456789abcdef",
];
const hostileRaw = [
  "1e400", "-1e400", "1e-400", "123456789012345678901234567890", "9007199254740993", deep(100_000), deep(33), deep(32), "NaN", "Infinity", "undefined", "'single'",
  '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"a":1,"a":2}', `[${"1,".repeat(100_000)}1]`, `"${"x".repeat(600 * 1024)}"`,
  '"\\ud800"', '{"\\udc00":1}', '"\\u0000"',
];
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...hostileStrings) },
  { weight: 3, arbitrary: fc.constantFrom(...hostileRaw).map((t) => new RawJson(t)) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -0, 1.5, -1, 2 ** 53, 1e308, 5e-324, [], {}, [[[]]], [1, "a", null], { x: { y: [] } }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 3 }).map((units) => String.fromCharCode(...units)) },
);

/** JSON text of `value`, with RawJson parts verbatim. */
function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(",")}]`;
  if (value !== null && typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

/** Paths to every node of a template (objects and arrays), the root included. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value !== null && typeof value === "object" && !(value instanceof RawJson)) for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

type Mutation = { kind: "set"; at: number; value: unknown } | { kind: "delete"; at: number } | { kind: "add"; at: number; key: string; value: unknown };

function mutate(template: unknown, m: Mutation): unknown {
  const copy = structuredClone(template);
  const paths = pathsOf(copy);
  const path = paths[m.at % paths.length] as (string | number)[];
  if (path.length === 0) return m.kind === "set" ? m.value : m.kind === "add" ? { ...(copy as object), [m.key]: m.value } : undefined;
  const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], copy);
  const last = path[path.length - 1] as string | number;
  if (m.kind === "set") parent[last] = m.value;
  else if (m.kind === "delete") {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (parent !== null && typeof parent === "object" && !Array.isArray(parent)) parent[m.key] = m.value;
  return copy;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: hostileValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("add" as const), at: fc.nat(), key: fc.constantFrom("__proto__", "constructor", "extra", "value", "", "\ud800"), value: hostileValue }) },
);

/** Whole bodies that are not what any route expects. */
const rawBodies = fc.constantFrom(
  "", " ", "{", "[", "{]", '{"a":}', "null", "true", "0", "[]", "{}", '"x"', "\ufeff{}", deep(100_000), `{"x":${deep(100_000)}}`, "1e400", "NaN",
  '{"__proto__":{"polluted":1}}', `[${'{"feature_id":"fz_float","entity_id":"e","value":1},'.repeat(10_000)}{"feature_id":"fz_float","entity_id":"e","value":1}]`,
  "\u0000\u0001", "\xff\xfe", "a=1&b=2",
);

// --- fixtures ------------------------------------------------------------------------------------

const FEATURES = ["fz_float", "fz_int", "fz_string", "fz_bool", "fz_list", "fz_json", "fz_sql"];
const GROUP = "fz_group";
const fx = { runIds: [] as string[], keyIds: [] as string[], deadLetters: ["fz-dead-1"], connectors: ["fz_pg"], entities: ["e1", "e2", "é1"] };

/** Host values a fuzzed connector config may hold: never a public address (see the module comment). */
const safeHosts = ["169.254.169.254", "10.0.0.1", "0x7f.1", "127.0.0.1", "[::1]", "::ffff:10.0.0.1", "fd00:ec2::254", "metadata.google.internal", "db.internal", "localhost",
  "nxdomain.fstore.test", "private.fstore.test", "user@10.0.0.1", "", " ", "a/b", "x".repeat(300), "\ud800", "2852039166", "0.0.0.0"];
const safeUrls = safeHosts.map((h) => `http://${h}:1/x`).concat(["ftp://127.0.0.1", "javascript:alert(1)", "http://", "not a url"]);

/** A valid body for each route that takes one, to mutate; fresh names where a name must be new. */
const templates: Record<string, () => unknown> = {
  "post /api/v1/features": () => ({ name: `fzn_${crypto.randomUUID().slice(0, 8)}`, value_type: "float", feature_group: "fz_new", entity_id: "entity" }),
  "patch /api/v1/features/{id}": () => ({ description: "d", ttl: "7d", tags: { a: "b" }, owner: "o" }),
  "post /api/v1/features/{id}/values": () => ({ entity_id: "e1", value: 1.5, timestamp: "2024-02-20T22:39:38.123456" }),
  "post /api/v1/features/batch": () => [
    { feature_id: "fz_float", entity_id: "e1", value: 2.5, timestamp: "2024-02-21T00:00:00Z" },
    { feature_id: "fz_json", entity_id: "e2", value: { a: [1, 2] } },
  ],
  "post /api/v1/keys": () => ({ name: "fz key", scopes: ["read"] }),
  "post /api/v1/connectors": () => ({ name: `fzc_${crypto.randomUUID().slice(0, 8)}`, type: "postgres", config: { host: "127.0.0.1", port: 1, database: "d", user: "u", password: "pw" } }),
  "post /api/v1/online-features": () => ({ features: ["fz_float", `${GROUP}:fz_json`], entity_ids: ["e1", "e2"] }),
  "post /api/v1/historical-features": () => ({ features: ["fz_float"], entity_rows: [{ entity_id: "e1", timestamp: "2025-01-01T00:00:00Z" }] }),
  "post /get-online-features": () => ({ features: ["fz_float"], entities: { fz_entity: ["e1", 7] }, full_feature_names: true }),
  "post /push": () => ({ push_source_name: GROUP, df: { fz_entity: ["e1"], event_timestamp: ["2024-01-01T00:00:00"], fz_float: [1.25] }, to: "online" }),
  "post /write-to-online-store": () => ({ feature_view_name: GROUP, df: { fz_entity: ["e2"], fz_int: [3] } }),
};
/** Connector configs are mutated with safe hosts only. */
const connectorConfigs = fc.record({
  type: fc.constantFrom("postgres", "mysql", "s3", "adls", "mariadb", "nope"),
  host: fc.constantFrom(...safeHosts),
  url: fc.constantFrom(...safeUrls),
  extra: hostileValue,
});

// --- D1 write counter ----------------------------------------------------------------------------

let tables: string[] = [];
/**
 * Every table but the counter's own and online_vectors: the online cache's bookkeeping of what KV
 * holds, which a read that fills KV (a 404 read remembers the entity has no values) rightly writes.
 */
async function installWriteCounter() {
  const { results } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT IN ('d1_migrations', 'fuzz_writes', 'online_vectors')").all<{ name: string }>();
  tables = results.map((r) => r.name);
  const statements = [env.DB.prepare("CREATE TABLE IF NOT EXISTS fuzz_writes (n INTEGER NOT NULL)"), env.DB.prepare("INSERT INTO fuzz_writes (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM fuzz_writes)")];
  for (const t of tables) {
    for (const op of ["INSERT", "UPDATE", "DELETE"]) {
      statements.push(env.DB.prepare(`CREATE TRIGGER IF NOT EXISTS fuzz_${t}_${op.toLowerCase()} AFTER ${op} ON "${t}" BEGIN UPDATE fuzz_writes SET n = n + 1; END`));
    }
  }
  await env.DB.batch(statements);
}
async function removeWriteCounter() {
  const statements = tables.flatMap((t) => ["insert", "update", "delete"].map((op) => env.DB.prepare(`DROP TRIGGER IF EXISTS fuzz_${t}_${op}`)));
  await env.DB.batch([...statements, env.DB.prepare("DROP TABLE IF EXISTS fuzz_writes")]);
}
const writes = async () => (await env.DB.prepare("SELECT n FROM fuzz_writes").first<{ n: number }>())?.n ?? 0;

// --- requests and the properties -----------------------------------------------------------------

interface FuzzRequest {
  method: string;
  path: string;
  body?: string;
  headers: Record<string, string>;
}

const stats = { requests: 0, rejected: 0, accepted: 0, fiveHundreds: 0, rejectedWrites: 0, routes: new Set<string>(), statuses: new Map<number, number>() };

/** Sends one request and checks both properties; returns a description on failure. */
async function check(req: FuzzRequest): Promise<void> {
  const before = await writes();
  // The Worker's own fetch handler with this file's env, whose queue producers drop their messages.
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${ORIGIN}${req.path}`, { method: req.method, headers: req.headers, body: req.body, redirect: "manual" }), env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  const after = await writes();
  stats.requests++;
  stats.statuses.set(res.status, (stats.statuses.get(res.status) ?? 0) + 1);
  const what = `${req.method} ${req.path.slice(0, 300)} (body ${req.body === undefined ? "none" : `${req.body.length} chars: ${req.body.slice(0, 200)}`})`;
  if (res.status >= 500) {
    stats.fiveHundreds++;
    throw new Error(`${res.status} for ${what}: ${text.slice(0, 300)}`);
  }
  if (res.status >= 400) {
    stats.rejected++;
    if (after !== before) {
      stats.rejectedWrites++;
      throw new Error(`${res.status} for ${what}, yet ${after - before} row(s) were written`);
    }
  } else stats.accepted++;
}

/** Encodes a path parameter; lone surrogates become the bytes a broken client would send (%ED%A0%80). */
function encodeParam(value: string, raw: boolean): string {
  if (raw) return value;
  try {
    return encodeURIComponent(value);
  } catch {
    return [...value].map((ch) => (/[\ud800-\udfff]/.test(ch) && ch.length === 1 ? `%ED%${(0xa0 + ((ch.charCodeAt(0) - 0xd800) >> 6)).toString(16).toUpperCase()}%80` : encodeURIComponent(ch))).join("");
  }
}

const paramValues = (path: string, name: string): string[] => {
  if (name === "entity_id") return fx.entities;
  if (path.startsWith("/api/v1/runs/")) return fx.runIds;
  if (path.startsWith("/api/v1/keys/")) return fx.keyIds;
  if (path.startsWith("/api/v1/dead-letters/")) return fx.deadLetters;
  if (path.startsWith("/api/v1/connectors/")) return fx.connectors;
  if (path.startsWith("/api/v1/feature-groups/")) return [GROUP];
  return FEATURES;
};

const keyArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant<"admin" | "read" | "write" | "none" | "junk">("admin") },
  { weight: 1, arbitrary: fc.constantFrom<"admin" | "read" | "write" | "none" | "junk">("read", "write", "none", "junk") },
);
const keys: Record<string, string> = {};
const authHeader = (k: string): Record<string, string> =>
  k === "none" ? {} : k === "junk" ? { authorization: "Bearer \u00ff\u00fe junk" } : { authorization: `Bearer ${k === "admin" ? ADMIN_KEY : keys[k]}` };

const contentTypeArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant("application/json") },
  { weight: 1, arbitrary: fc.constantFrom("text/plain", "", "application/json; charset=utf-16", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x") },
);

interface Operation {
  method: string;
  path: string;
  query: { name: string; values: string[] }[];
  hasBody: boolean;
}

/** Every operation of the OpenAPI document, as the app serves it. */
function operations(): Operation[] {
  const doc = createApp().getOpenAPI31Document({ openapi: "3.1.0", info: { title: "FStore API", version: "fuzz" } }) as unknown as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema?: { enum?: string[] } }[]; requestBody?: unknown }>>;
  };
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const query = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => ({ name: p.name, values: p.schema?.enum ?? ["1", "e1", "2024-01-01T00:00:00Z", "fz_float"] }));
      ops.push({ method: method.toUpperCase(), path, query, hasBody: op.requestBody !== undefined || Boolean(templates[`${method} ${path}`]) });
    }
  }
  return ops;
}

function requestArb(op: Operation): fc.Arbitrary<FuzzRequest> {
  const params = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
  const paramArb = (name: string) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...(paramValues(op.path, name).length ? paramValues(op.path, name) : ["x"])).map((v) => encodeParam(v, false)) },
      { weight: 2, arbitrary: fc.constantFrom(...hostileStrings).map((v) => encodeParam(v, false)) },
      { weight: 1, arbitrary: fc.constantFrom("..", "../..", "%2e%2e", "..%2f", "a%2Fb", "%ED%A0%80", "%", "%zz", "%00").map((v) => encodeParam(v, true)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((v) => encodeParam(v, false)) },
    );
  const queryArb = fc.array(
    fc.record({
      name: op.query.length ? fc.constantFrom(...op.query.map((q) => q.name), "unknown") : fc.constantFrom("unknown", "limit"),
      value: fc.oneof(fc.constantFrom(...(op.query.flatMap((q) => q.values).length ? op.query.flatMap((q) => q.values) : ["1"])), fc.constantFrom(...hostileStrings)),
    }),
    { maxLength: 4 },
  );
  const template = templates[`${op.method.toLowerCase()} ${op.path}`];
  const bodyArb: fc.Arbitrary<string | undefined> = !op.hasBody
    ? fc.constant(undefined)
    : op.path === "/api/v1/connectors"
      ? fc.tuple(connectorConfigs, mutation, fc.boolean()).map(([c, m, doMutate]) => {
          const body = { name: `fzc_${crypto.randomUUID().slice(0, 8)}`, type: c.type, config: { host: c.host, endpoint: c.url, ws_proxy: c.host, database: "d", user: "u", bucket: "b", aws_access_key_id: "k", aws_secret_access_key: "s", account_name: "acct", container: "c", credential: "sv=1&sig=x", port: 1 } };
          // Mutations never touch the host fields (no public address may appear): only the other fields and the top level.
          return toJsonText(doMutate ? { ...body, config: { ...body.config, extra: c.extra }, [String(m.at % 3 === 0 ? "name" : "unknown")]: m.kind === "set" ? m.value : "x" } : body);
        })
      : fc.oneof(
          { weight: 2, arbitrary: fc.constant(null).map(() => toJsonText(template ? template() : {})) },
          { weight: 6, arbitrary: mutation.map((m) => toJsonText(mutate(template ? template() : {}, m))) },
          { weight: 2, arbitrary: rawBodies },
        );
  return fc.record({ params: fc.tuple(...params.map(paramArb)), query: queryArb, body: bodyArb, key: keyArb, contentType: contentTypeArb }).map(({ params: values, query, body, key, contentType }) => {
    let i = 0;
    const path = op.path.replace(/\{[^}]+\}/g, () => values[i++] as string);
    const search = query.length ? `?${query.map((q) => `${encodeURIComponent(q.name)}=${encodeParam(q.value, false)}`).join("&")}` : "";
    const headers: Record<string, string> = { ...authHeader(key) };
    if (body !== undefined && contentType) headers["content-type"] = contentType;
    return { method: op.method, path: `${path}${search}`, body, headers };
  });
}

// --- setup ---------------------------------------------------------------------------------------

/** The fixture features and connector (again, after a fuzzed DELETE removed them); 409s are ignored. */
async function ensureFixtures() {
  const types = ["float", "int", "string", "bool", "float_list", "json"];
  await call("POST", "/api/v1/connectors", { body: { name: "fz_pg", type: "postgres", config: { host: "127.0.0.1", port: 1, database: "d", user: "u", connect_timeout: 1 } } });
  for (const [i, type] of types.entries()) await call("POST", "/api/v1/features", { body: { name: FEATURES[i], value_type: type, entity_id: "fz_entity", feature_group: GROUP } });
  await call("POST", "/api/v1/features", { body: { name: "fz_sql", entity_id: "fz_entity", feature_group: "fz_sql_group", connector: "fz_pg", query: "SELECT 'e1', 1", update_frequency: "1d" } });
}

const dropped: unknown[] = [];
let cookie = "";
let csrf = "";

beforeAll(async () => {
  // Queue messages are recorded, not delivered: no consumer may write to D1 between a request and its check.
  for (const queue of [env.JOBS, env.EVENTS]) {
    queue.send = (async (body: unknown) => void dropped.push(body)) as unknown as Queue["send"];
    queue.sendBatch = (async (messages: Iterable<MessageSendRequest>) => void dropped.push(...[...messages].map((m) => m.body))) as unknown as Queue["sendBatch"];
  }
  await ensureFixtures();
  await callJson("POST", "/api/v1/features/batch", 200, {
    body: [
      { feature_id: "fz_float", entity_id: "e1", value: 1.5 },
      { feature_id: "fz_json", entity_id: "e2", value: { nested: [1, { x: null }] } },
      { feature_id: "fz_string", entity_id: "é1", value: "text" },
    ],
  });
  const run = await callJson("POST", "/api/v1/features/fz_sql/materialize?wait=true", 200);
  fx.runIds.push(run.id, "00000000-0000-0000-0000-000000000000");
  keys.read = await createKey(["read"]);
  keys.write = await createKey(["write"]);
  fx.keyIds.push(keys.read.split("_")[1] as string, "000000000000");
  await env.DB.prepare("INSERT INTO dead_letters (id, queue, body, attempts, sent_at, received_at) VALUES ('fz-dead-1', 'fstore-jobs', '{\"type\":\"materialize\",\"run_id\":\"x\"}', 6, 0, 0)").run();
  cookie = await signIn();
  csrf = csrfOf((await getPage("/ui/features", cookie)).html);
  await installWriteCounter();
});

afterAll(async () => {
  await removeWriteCounter();
  const statuses = [...stats.statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(" ");
  console.log(
    `fuzz (seed ${SEED}, ${RUNS} runs per route): ${stats.requests} requests over ${stats.routes.size} routes; ${stats.accepted} accepted, ${stats.rejected} rejected; ` +
      `${stats.fiveHundreds} responses >= 500; ${stats.rejectedWrites} rejected requests that wrote rows; statuses ${statuses}; ${dropped.length} queue messages dropped`,
  );
});

const OPERATIONS = operations();

describe("fuzz: every route of /openapi.json", () => {
  it("covers what /openapi.json serves (Feast routes included)", async () => {
    const served = await callJson("GET", "/openapi.json", 200, { key: null });
    const servedOps = Object.entries(served.paths as Record<string, object>).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(OPERATIONS.map((o) => `${o.method} ${o.path}`).sort()).toEqual(servedOps.filter((o) => /^(GET|POST|PUT|PATCH|DELETE) /.test(o)).sort());
    expect(servedOps).toEqual(expect.arrayContaining(["POST /push", "POST /write-to-online-store", "POST /get-online-features"]));
  });

  it("the write counter sees writes (so 'nothing written' means something)", async () => {
    const before = await writes();
    await callJson("POST", "/api/v1/features/fz_float/values", 200, { body: { entity_id: "counter", value: 1 } });
    expect(await writes()).toBeGreaterThan(before);
  });

  it.each(OPERATIONS.map((op, i) => [`${op.method} ${op.path}`, op, i] as const))("%s", async (_name, op, i) => {
    stats.routes.add(`${op.method} ${op.path}`);
    await ensureFixtures(); // a DELETE route's fuzz may have removed some
    await fc.assert(fc.asyncProperty(requestArb(op), check), { seed: SEED + i, numRuns: RUNS, endOnFailure: true });
  }, 300_000);

  it("bodies over the size limit are a 413 on every route that takes a body, and write nothing", async () => {
    const huge = `{"entity_id":"e1","value":"${"x".repeat(11 * 1024 * 1024)}"}`;
    for (const op of OPERATIONS.filter((o) => o.hasBody)) {
      const path = op.path.replace(/\{[^}]+\}/g, (m) => (m === "{entity_id}" ? "e1" : (paramValues(op.path, m.slice(1, -1))[0] ?? "x")));
      stats.routes.add(`${op.method} ${op.path}`);
      await check({ method: op.method, path, body: huge, headers: { ...authHeader("admin"), "content-type": "application/json" } });
    }
  }, 300_000);
});

// --- the dashboard's forms -----------------------------------------------------------------------

const FORM = "application/x-www-form-urlencoded";
const uiForms: { method: string; path: (v: string) => string; fields: string[]; csrf: boolean }[] = [
  { method: "POST", path: () => "/ui/sign-in", fields: ["key", "next"], csrf: false },
  { method: "GET", path: () => "/ui/sign-in", fields: ["next", "signed_out"], csrf: false },
  { method: "POST", path: () => "/ui/keys", fields: ["name", "scope", "scope"], csrf: true },
  { method: "POST", path: (v) => `/ui/keys/${v}/revoke`, fields: [], csrf: true },
  { method: "POST", path: (v) => `/ui/connectors/${v}/test`, fields: [], csrf: true },
  { method: "POST", path: (v) => `/ui/features/${v}/materialize`, fields: [], csrf: true },
  { method: "POST", path: () => "/ui/online", fields: ["features", "group", "entities"], csrf: true },
  { method: "GET", path: () => "/ui/online", fields: ["features", "group", "entities"], csrf: false },
  { method: "GET", path: () => "/ui/features", fields: ["q", "group", "entity", "source", "type", "connector", "cursor", "page"], csrf: false },
  { method: "GET", path: (v) => `/ui/features/${v}`, fields: ["range", "entity", "start", "end", "limit"], csrf: false },
  { method: "GET", path: () => "/ui/runs", fields: ["status", "trigger", "feature", "since", "cursor"], csrf: false },
  { method: "GET", path: () => "/ui/runs/live", fields: ["ids"], csrf: false },
  { method: "GET", path: (v) => `/ui/runs/${v}`, fields: ["status", "limit"], csrf: false },
  { method: "GET", path: () => "/ui/connectors", fields: [], csrf: false },
  { method: "GET", path: () => "/ui/keys", fields: ["cursor"], csrf: false },
  { method: "GET", path: () => "/ui/streams", fields: [], csrf: false },
  { method: "POST", path: () => "/ui/sign-out", fields: [], csrf: false }, // never a valid token: it would end the fuzzer's session
];

describe("fuzz: the dashboard's forms", () => {
  it.each(uiForms.map((f, i) => [`${f.method} ${f.path("{x}")}`, f, i] as const))("%s", async (_name, form, i) => {
    stats.routes.add(`UI ${form.method} ${form.path("{x}")}`);
    await ensureFixtures();
    const fieldValue = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...hostileStrings) },
      { weight: 2, arbitrary: fc.constantFrom("fz_float", "fz_sql", GROUP, "e1,e2", "read", "write", "admin", ADMIN_KEY, "/ui/features", "//evil.example", "7d", "failed") },
      { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
    );
    const arb = fc.record({
      target: fc.oneof(fc.constantFrom(...FEATURES, "fz_pg", ...fx.keyIds, ...fx.runIds), fc.constantFrom(...hostileStrings).map((v) => encodeParam(v, false))),
      values: fc.array(fieldValue, { minLength: form.fields.length, maxLength: form.fields.length }),
      validCsrf: fc.boolean(),
      session: fc.constantFrom("mine", "mine", "mine", "none", "forged"),
      origin: fc.constantFrom(ORIGIN, ORIGIN, ORIGIN, "http://evil.example", ""),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ target, values, validCsrf, session, origin }) => {
        const params = new URLSearchParams();
        form.fields.forEach((f, k) => params.append(f, (values[k] as string).replace(/[\ud800-\udfff]/g, "\ufffd")));
        if (form.csrf) params.append("_csrf", validCsrf ? csrf : "forged");
        const headers: Record<string, string> = {};
        if (session === "mine") headers.cookie = cookie;
        if (session === "forged") headers.cookie = "__Host-fstore_session=forged.token";
        if (origin) headers.origin = origin;
        const path = form.path(target.replace(/[\ud800-\udfff]/g, "%ED%A0%80"));
        if (form.method === "GET") await check({ method: "GET", path: `${path}${form.fields.length ? `?${params}` : ""}`, headers });
        else await check({ method: "POST", path, body: params.toString(), headers: { ...headers, "content-type": FORM } });
      }),
      { seed: SEED + 1000 + i, numRuns: RUNS, endOnFailure: true },
    );
  }, 300_000);

  it("the session stayed usable (the fuzz did not just bounce off the sign-in page)", async () => {
    expect((await uiCall("GET", "/ui/features", { headers: { cookie } })).status).toBe(200);
  });
});
