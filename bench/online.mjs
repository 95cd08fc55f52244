/**
 * Online-serving benchmark with Feast's benchmark workload: 25 feature groups × 10 float features
 * (bench/online-workload.mjs), requests of 50 features (5 groups × 10) for 1 and for 100 entities.
 * Same load generator (autocannon, in this process: fixed connections and duration, after a
 * warm-up on one connection) against, one after the other:
 *   - FStore under `wrangler dev` (a bundle of src/ taken at start), `POST /api/v1/online-features`
 *     with a read-scoped key, and its Feast-compatible `POST /get-online-features` (both read one
 *     KV key per (group, entity): 5 per 1×50 request, 500 per 100×50 request);
 *   - the bare-KV Worker (bench/bare-kv-worker) on a copy of FStore's local KV and D1 state: the
 *     same KV bulk reads of the same vectors and the same JSON, for both endpoints, with nothing
 *     else — the fair limit of a Worker serving these vectors; FStore's p99 is printed as a ratio
 *     to it (targets: ≤ 1.1x at 100×50, ≤ 1.2x at 1×50);
 *   - context: a bare Worker answering a fixed JSON body of the same size and shape
 *     (bench/bare-json-worker), and a Hono-on-Node service reading the same vectors from the local
 *     Redis with one pipelined HGETALL per (group, entity) (bench/redis-node-service).
 *
 * FStore is seeded through its API (features registered, values pushed in batches of 10,000 —
 * bulk loads write no KV vector), then every vector the requests read is filled into KV by reads
 * (at most 200 fills per request) until every read is a KV hit; then it is stopped and FStore and
 * the bare-KV Worker are started on two copies of its KV and D1 state. Every target's answer is checked against the expected vectors (all PRESENT)
 * before and after it is measured; any non-200 answer, error or timeout under load fails the
 * benchmark (after the tables print). KV operations and bytes per request come from the
 * Server-Timing header of FStore and of the bare-KV Worker.
 * Latencies are each response's own time as autocannon measures it (sub-millisecond resolution;
 * autocannon's histogram keeps whole milliseconds only), percentiles by nearest rank.
 *
 * Requests are started for the window's length only; those still in flight when it closes are
 * waited for and counted (like k6's gracefulStop), so a target that needs longer than the window
 * for one request is measured, not cut off, and leaves no backlog behind for the next target.
 *
 * FStore and its bare-KV baseline are measured in alternating rounds (BENCH_ONLINE_ROUNDS) whose
 * latencies are pooled, so a shared machine's changing load weighs on both alike.
 *
 * Environment: BENCH_ONLINE_CONNECTIONS (default 10), BENCH_ONLINE_SECONDS (measured seconds per
 * target and scenario, default 20), BENCH_ONLINE_ROUNDS (default 4), BENCH_ONLINE_WARMUP (seconds,
 * default 2), BENCH_ONLINE_ENTITIES
 * (entities seeded, default 500 — seeding FStore takes most of the time: 1000 doubles it),
 * REDIS_URL (default redis://127.0.0.1:6379; must be local).
 */
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import {
  bundleWorker,
  freePort,
  logProblems,
  percentile,
  repoRoot,
  runWrangler,
  startNodeService,
  startWranglerDev,
  tail,
  waitForHttp,
} from "../scripts/lib/wrangler.mjs";
import * as W from "./online-workload.mjs";
import { fmt, intFromEnv } from "./options.mjs";

const REQUEST_TIMEOUT_MS = 120_000;
/** A check right after a load phase may first wait for the server's backlog. */
const VERIFY_TIMEOUT_MS = 240_000;
/** How long requests still in flight when a load window closes are waited for. */
const GRACE_S = 120;
/** Values per `POST /api/v1/features/batch` while seeding (FStore's maximum). */
const SEED_BATCH = 10_000;
/** Distinct request bodies per scenario, cycled through by every connection. */
const BODY_POOL = 64;
const SCENARIOS = [1, 100];

const fmtMs = (ms) => (Number.isFinite(ms) ? fmt(ms, ms < 100 ? 2 : 1) : "-");
const seconds = (t0) => ((performance.now() - t0) / 1000).toFixed(1);

/** 1-minute load average of the machine (shared with whatever else runs on it). */
const loadAverage = () => os.loadavg()[0].toFixed(2);

async function call(url, { method = "POST", body, headers = {}, expect = 200, timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`${method} ${url} answered ${res.status} (expected ${expect}): ${text.slice(0, 500)}`);
  return text;
}

/** Starts a Worker under wrangler dev with its local state in `<dir>/<name>-state` (D1 migrated when `migrate`). */
async function startWorker({ name, config, dir, envFile, snapshot, migrate }) {
  const persistTo = path.join(dir, `${name}-state`);
  const logFile = path.join(dir, `${name}.log`);
  mkdirSync(persistTo, { recursive: true });
  const script = snapshot ? await bundleWorker({ config, outdir: path.join(dir, `${name}-bundle`), logFile }) : undefined;
  if (migrate) await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config], { logFile });
  const server = await startWranglerDev({ config, script, port: await freePort(), persistTo, envFile, logFile });
  server.logFile = logFile;
  server.name = name;
  await waitForHttp(server, "/health", { logFile });
  return server;
}

// ---------------------------------------------------------------------------------------------
// Seeding

/** Every value, group by group, entity by entity, as FStore batch items. */
function* seedItems(entities) {
  for (let g = 0; g < W.GROUPS; g++) {
    for (let e = 0; e < entities; e++) {
      const timestamp = new Date(W.eventTimeMs(g, e)).toISOString();
      for (let f = 0; f < W.FEATURES_PER_GROUP; f++) {
        yield { feature_id: W.featureName(g, f), entity_id: W.entityId(e), value: W.featureValue(g, f, e), timestamp };
      }
    }
  }
}

/** Registers the 250 features and pushes every value. Returns what it saw. */
async function seedFStore(fstore, adminKey, entities) {
  const auth = { authorization: `Bearer ${adminKey}` };
  const t0 = performance.now();
  const defs = [];
  for (let g = 0; g < W.GROUPS; g++) {
    for (let f = 0; f < W.FEATURES_PER_GROUP; f++) {
      defs.push({ name: W.featureName(g, f), entity_id: W.ENTITY, feature_group: W.groupName(g), value_type: "float" });
    }
  }
  for (let i = 0; i < defs.length; i += 10) {
    await Promise.all(defs.slice(i, i + 10).map((def) => call(`${fstore.url}/api/v1/features`, { body: def, headers: auth, expect: 201 })));
  }
  const registeredS = seconds(t0);

  const t1 = performance.now();
  const batchMs = [];
  let batch = [];
  const push = async () => {
    const b0 = performance.now();
    const text = await call(`${fstore.url}/api/v1/features/batch`, { body: batch, headers: auth });
    batchMs.push(performance.now() - b0);
    if (JSON.parse(text).written !== batch.length) throw new Error(`batch answered ${text.slice(0, 300)} for ${batch.length} items`);
    batch = [];
  };
  let values = 0;
  for (const item of seedItems(entities)) {
    batch.push(item);
    values++;
    if (batch.length === SEED_BATCH) await push();
  }
  if (batch.length > 0) await push();
  return { values, registeredS, pushedS: seconds(t1), batchMs };
}

/**
 * Fills KV with every vector the benchmark's requests read: reads of 40 entities × the request's
 * 5 groups (200 vectors, what one request may fill), repeated until every read is a KV hit.
 * Returns the number of passes.
 */
async function warmFStore(fstore, adminKey, entities) {
  const auth = { authorization: `Bearer ${adminKey}` };
  const deadline = Date.now() + 240_000;
  for (let pass = 1; ; pass++) {
    let misses = 0;
    for (let start = 0; start < entities; start += 40) {
      const ids = Array.from({ length: Math.min(40, entities - start) }, (_, i) => start + i);
      const res = await fetch(`${fstore.url}/api/v1/online-features`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: onlineBody(ids),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`warming FStore's KV: ${res.status}`);
      if (res.headers.get("x-fstore-cache") !== "hit") misses++;
    }
    if (misses === 0) return pass;
    if (Date.now() > deadline) throw new Error(`FStore's KV still missed ${misses} reads after ${pass} passes`);
    await sleep(1000); // fills run after each response
  }
}

/**
 * Copies FStore's local KV and D1 state (SQLite files and KV value blobs) into `to`, for the
 * bare-KV Worker: the same vectors under the same keys. SQLite files are copied with VACUUM INTO,
 * a consistent snapshot even while FStore's workerd has them open.
 */
async function copyState(from, to) {
  // node:sqlite is stable enough for a copy; its "experimental" warning is noise in the report.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  const { DatabaseSync } = await import("node:sqlite").finally(() => (process.emitWarning = emitWarning));
  for (const kind of ["kv", "d1"]) {
    const walk = (dir) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const src = path.join(dir, entry.name);
        const dst = path.join(to, path.relative(from, src));
        if (entry.isDirectory()) {
          if (entry.name === "blobs") cpSync(src, dst, { recursive: true });
          else {
            mkdirSync(dst, { recursive: true });
            walk(src);
          }
        } else if (entry.name.endsWith(".sqlite")) {
          const db = new DatabaseSync(src, { readOnly: true });
          db.exec(`VACUUM INTO '${dst.replace(/'/g, "''")}'`);
          db.close();
        }
      }
    };
    mkdirSync(path.join(to, "v3", kind), { recursive: true });
    walk(path.join(from, "v3", kind));
  }
}

/** The same vectors as Redis hashes `<prefix>vec:<group>:<entity>`, plus `<prefix>catalog`. */
async function seedRedis(redis, prefix, entities) {
  const catalog = {};
  for (let g = 0; g < W.GROUPS; g++) for (let f = 0; f < W.FEATURES_PER_GROUP; f++) catalog[W.featureName(g, f)] = W.groupName(g);
  await redis.hset(`${prefix}catalog`, catalog);
  let pipeline = redis.pipeline();
  let queued = 0;
  for (let g = 0; g < W.GROUPS; g++) {
    for (let e = 0; e < entities; e++) {
      // As Feast's Redis online store keeps them: one field per feature, one event time per vector.
      const fields = { _ts: String(W.eventTimeMs(g, e)) };
      for (let f = 0; f < W.FEATURES_PER_GROUP; f++) fields[W.featureName(g, f)] = JSON.stringify(W.featureValue(g, f, e));
      pipeline.hset(`${prefix}vec:${W.groupName(g)}:${W.entityId(e)}`, fields);
      if (++queued === 1000) {
        await execAll(pipeline);
        pipeline = redis.pipeline();
        queued = 0;
      }
    }
  }
  if (queued > 0) await execAll(pipeline);
}

async function execAll(pipeline) {
  for (const [err] of await pipeline.exec()) if (err) throw err;
}

/** Deletes every key under `prefix` (only this run's keys). */
async function cleanRedis(redis, prefix) {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}

// ---------------------------------------------------------------------------------------------
// Requests and load

/** Entity indexes of the k-th body of a scenario: spread over all seeded entities. */
function idsFor(k, n, entities) {
  const start = Math.floor((k * (entities - n)) / Math.max(1, BODY_POOL - 1));
  return Array.from({ length: n }, (_, i) => start + i);
}

const onlineBody = (ids) => JSON.stringify({ features: W.REQUEST_FEATURES.map((x) => x.name), entity_ids: ids.map(W.entityId) });
const feastBody = (ids) => JSON.stringify({ features: W.REQUEST_FEATURES.map((x) => `${x.group}:${x.name}`), entities: { [W.ENTITY]: ids.map(W.entityId) } });

/**
 * One target of one scenario: how to reach it, the bodies to cycle through, and how to check an
 * answer (`expected(ids)` is the exact parsed body it must return). `baseline` names the target
 * whose p99 this one's is compared with.
 */
function targets({ fstore, bareKv, bare, redisService, readKey, serviceToken, n, entities }) {
  const pool = Array.from({ length: BODY_POOL }, (_, k) => idsFor(k, n, entities));
  const fixed = Array.from({ length: n }, (_, i) => i);
  return [
    { label: "FStore /api/v1/online-features", key: "fstore", url: fstore.url, path: "/api/v1/online-features", auth: readKey, pool, body: onlineBody, expected: W.onlineResponse, baseline: "bare-kv" },
    { label: "bare-KV Worker, same reads + JSON", key: "bare-kv", url: bareKv.url, path: "/api/v1/online-features", pool, body: onlineBody, expected: W.onlineResponse },
    { label: "FStore /get-online-features (Feast)", key: "feast", url: fstore.url, path: "/get-online-features", auth: readKey, pool, body: feastBody, expected: W.feastResponse, baseline: "bare-kv-feast" },
    { label: "bare-KV Worker, Feast endpoint", key: "bare-kv-feast", url: bareKv.url, path: "/get-online-features", pool, body: feastBody, expected: W.feastResponse },
    // Context: the bare Worker's body is fixed (entities e0..e{n-1}); it gets the same request bodies.
    { label: "bare Worker, fixed JSON (context)", key: "bare", url: bare.url, path: `/online-features?entities=${n}`, pool, body: onlineBody, expected: () => W.onlineResponse(fixed) },
    { label: "Hono on Node + Redis HGETALL (context)", key: "redis", url: redisService.url, path: "/online-features", auth: serviceToken, pool, body: onlineBody, expected: W.onlineResponse },
  ];
}

/**
 * Checks the answers to the first and last body of the pool, one after the other; throws on any
 * difference. Right after a load phase the first call also waits out whatever the server still has
 * in flight (requests autocannon abandoned when its time was up). Returns both calls' times in ms.
 */
async function verify(t, when) {
  const times = [];
  for (const ids of [t.pool[0], t.pool.at(-1)]) {
    const t0 = performance.now();
    const res = await fetch(`${t.url}${t.path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(t.auth ? { authorization: `Bearer ${t.auth}` } : {}) },
      body: t.body(ids),
      signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${t.label} ${when}: answered ${res.status}: ${text.slice(0, 500)}`);
    times.push(performance.now() - t0);
    t.serverTiming = res.headers.get("server-timing");
    const got = JSON.parse(text);
    const want = t.expected(ids);
    if (!isDeepStrictEqual(got, want)) {
      const statuses = JSON.stringify(got).match(/NOT_FOUND|OUTSIDE_MAX_AGE|NULL_VALUE/g) ?? [];
      throw new Error(
        `${t.label} ${when}: answer differs from the seeded vectors (${statuses.length} non-PRESENT statuses` +
          `${statuses.length ? `, e.g. ${statuses[0]}` : ""}); got ${text.slice(0, 400)} ...`,
      );
    }
  }
  return times;
}

/**
 * Closed-loop load with autocannon: `connections` connections issue requests back to back for
 * `durationS`; then no new request is started, and those still in flight are waited for (at most
 * GRACE_S) and counted, like k6's gracefulStop — so a target slower than the window is measured
 * rather than cut off. req/s = answers / time from start to the last answer.
 */
function load(t, { connections, durationS }) {
  const latencies = [];
  const clients = [];
  let bytes = 0;
  let lastAnswer = 0;
  let afterWindow = 0;
  let windowClosed = false;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const closeWindow = setTimeout(() => {
      windowClosed = true;
      // A client stops once it has as many answers as requests made: its request in flight is its last.
      for (const client of clients) client.responseMax = Math.max(1, client.reqsMade);
    }, durationS * 1000);
    const instance = autocannon(
      {
        url: `${t.url}${t.path}`,
        connections,
        duration: durationS + GRACE_S,
        timeout: GRACE_S,
        setupClient: (client) => clients.push(client),
        requests: t.pool.map((ids) => ({
          method: "POST",
          headers: { "content-type": "application/json", ...(t.auth ? { authorization: `Bearer ${t.auth}` } : {}) },
          body: t.body(ids),
        })),
      },
      (err, result) => {
        clearTimeout(closeWindow);
        if (err) return reject(err);
        latencies.sort((a, b) => a - b);
        const ok = result["2xx"];
        const spanS = (lastAnswer - t0) / 1000;
        resolve({
          latencies,
          bytes,
          requests: latencies.length,
          afterWindow,
          // Still unanswered when GRACE_S ran out too.
          cutOff: Math.max(0, result.requests.sent - latencies.length - result.errors - result.timeouts),
          ok,
          failed: result.non2xx + result.errors + result.timeouts,
          statusCodes: result.statusCodeStats,
          errors: result.errors,
          timeouts: result.timeouts,
          spanS,
          rps: ok / spanS,
          p50: latencies.length ? percentile(latencies, 50) : NaN,
          p99: latencies.length ? percentile(latencies, 99) : NaN,
          max: latencies.length ? latencies.at(-1) : NaN,
          bytesPerResponse: bytes / Math.max(1, latencies.length),
        });
      },
    );
    instance.on("response", (_client, _status, resBytes, responseTime) => {
      latencies.push(responseTime);
      bytes += resBytes;
      lastAnswer = performance.now();
      if (windowClosed) afterWindow++;
    });
  });
}

/** One result from the load phases (rounds) of one target: latencies pooled, counts and spans added up. */
function merge(parts) {
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const sum = (key) => parts.reduce((n, p) => n + p[key], 0);
  const spanS = sum("spanS");
  const ok = sum("ok");
  const statusCodes = {};
  for (const p of parts) for (const [code, { count }] of Object.entries(p.statusCodes)) statusCodes[code] = { count: (statusCodes[code]?.count ?? 0) + count };
  return {
    requests: latencies.length,
    afterWindow: sum("afterWindow"),
    cutOff: sum("cutOff"),
    ok,
    failed: sum("failed"),
    statusCodes,
    errors: sum("errors"),
    timeouts: sum("timeouts"),
    spanS,
    rps: ok / spanS,
    p50: latencies.length ? percentile(latencies, 50) : NaN,
    p99: latencies.length ? percentile(latencies, 99) : NaN,
    max: latencies.length ? latencies.at(-1) : NaN,
    bytesPerResponse: sum("bytes") / Math.max(1, latencies.length),
  };
}

function printScenario(n, rows, opts, loadBefore) {
  console.log(
    `\nonline ${n}×50 (${n} entit${n === 1 ? "y" : "ies"} × 50 features from 5 groups): ${opts.connections} connections, ` +
      `${opts.durationS} s per target (FStore and bare-KV alternating in ${opts.rounds} rounds) after a ${opts.warmupS} s warm-up on 1 connection; ` +
      `load average before ${loadBefore}, after ${loadAverage()}`,
  );
  const header = ["target", "req/s", "p50 ms", "p99 ms", "max ms", "answers", "late", "span s", "lone ms", "bytes/resp"];
  const lines = rows.map((r) => [
    r.label,
    fmt(r.rps, r.rps < 10 ? 1 : 0),
    fmtMs(r.p50),
    fmtMs(r.p99),
    fmtMs(r.max),
    fmt(r.requests),
    fmt(r.afterWindow),
    fmt(r.spanS, 1),
    fmtMs(r.loneMs),
    fmt(r.bytesPerResponse),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(line(l));
  console.log(
    `(requests are started for ${opts.durationS} s per target; late: answers to requests still in flight when a window closed, waited for and counted; ` +
      "span s: start to last answer, req/s = answers / span; lone ms: one request on its own, after the warm-up)",
  );
  for (const r of rows) {
    if (r.requests < 10 * opts.connections) {
      console.log(`note: ${r.label} answered only ${r.requests} requests; its percentiles rest on few samples`);
    }
    if (r.backlogMs > 1000) console.log(`note: ${r.label} took ${fmt(r.backlogMs / 1000, 1)} s to answer a check request right after the run`);
  }
  const by = Object.fromEntries(rows.map((r) => [r.key, r]));
  const x = (v) => (!Number.isFinite(v) ? "n/a" : v >= 10 ? `${v.toFixed(1)}x` : v >= 0.1 ? `${v.toFixed(2)}x` : `${v.toPrecision(2)}x`);
  const target = n === 1 ? 1.2 : 1.1;
  for (const r of rows.filter((row) => row.baseline)) {
    const base = by[r.baseline];
    console.log(
      `bare-KV ratio ${n}×50 ${r.label}: p99 ${x(r.p99 / base.p99)} the bare-KV Worker's (target ≤ ${target}x), p50 ${x(r.p50 / base.p50)}, ` +
        `req/s ${x(r.rps / base.rps)}; p99 ${x(r.p99 / by.redis.p99)} Hono+Redis's`,
    );
  }
  for (const r of rows.filter((row) => row.serverTiming)) console.log(`Server-Timing of one ${r.label} request: ${r.serverTiming}`);
}

/**
 * The online benchmark. `ctx.dir` is a fresh directory for this run's state and logs.
 * Returns the measured rows per scenario; throws when anything failed.
 */
export async function online(ctx) {
  const opts = {
    connections: intFromEnv("BENCH_ONLINE_CONNECTIONS", 10, 1, 256),
    durationS: intFromEnv("BENCH_ONLINE_SECONDS", 20, 1, 120),
    rounds: intFromEnv("BENCH_ONLINE_ROUNDS", 4, 1, 20),
    warmupS: intFromEnv("BENCH_ONLINE_WARMUP", 2, 1, 30),
  };
  const entities = intFromEnv("BENCH_ONLINE_ENTITIES", 500, 100, 10_000);
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  const redisHost = new URL(redisUrl).hostname;
  if (!["127.0.0.1", "localhost", "[::1]"].includes(redisHost)) throw new Error(`REDIS_URL must point at this machine, got ${redisHost}`);
  const dir = ctx.dir;
  mkdirSync(dir, { recursive: true });

  const adminKey = `bench_${randomBytes(24).toString("hex")}`;
  const envFile = path.join(dir, "fstore.env");
  writeFileSync(envFile, `FSTORE_ADMIN_KEY=${adminKey}\n`, { mode: 0o600 });
  const serviceToken = randomBytes(24).toString("hex");
  const prefix = `fstore-bench:${process.pid}-${randomBytes(4).toString("hex")}:`;

  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const servers = [];
  const failures = [];
  const results = {};
  try {
    await redis.connect();
    const redisInfo = await redis.info("server");
    const redisVersion = /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? "?";

    // FStore (bundled from src/ now), the bare Worker and the Redis service start side by side.
    console.log(`online: starting FStore and the bare Worker under wrangler dev, seeding Redis (${entities} entities) ...`);
    const t0 = performance.now();
    const fstoreP = startWorker({ name: "fstore", config: path.join(repoRoot, "wrangler.toml"), dir, envFile, snapshot: true, migrate: true });
    const bareP = startWorker({ name: "bare", config: path.join(repoRoot, "bench", "bare-json-worker", "wrangler.toml"), dir, snapshot: true });
    const redisP = (async () => {
      await seedRedis(redis, prefix, entities);
      const logFile = path.join(dir, "redis-service.log");
      const service = startNodeService({
        script: path.join(repoRoot, "bench", "redis-node-service", "server.mjs"),
        port: await freePort(),
        env: { REDIS_URL: redisUrl, KEY_PREFIX: prefix, BENCH_TOKEN: serviceToken },
        logFile,
      });
      service.logFile = logFile;
      service.name = "redis-service";
      servers.push(service);
      await waitForHttp(service, "/health", { logFile });
      return service;
    })();
    const settled = await Promise.allSettled([fstoreP, bareP, redisP]);
    for (const s of settled) if (s.status === "fulfilled" && !servers.includes(s.value)) servers.push(s.value);
    const failedStart = settled.find((s) => s.status === "rejected");
    if (failedStart) throw failedStart.reason;
    const [seeding, bare, redisService] = settled.map((s) => s.value);
    console.log(`online: all three up in ${seconds(t0)} s; seeding FStore ...`);

    const seed = await seedFStore(seeding, adminKey, entities);
    const bm = [...seed.batchMs].sort((a, b) => a - b);
    console.log(
      `online: FStore seeded: 250 features registered in ${seed.registeredS} s; ${fmt(seed.values)} values in ${seed.batchMs.length} batches ` +
        `in ${seed.pushedS} s (batch p50 ${fmt(percentile(bm, 50))} ms, max ${fmt(bm.at(-1))} ms)`,
    );
    const t1 = performance.now();
    const passes = await warmFStore(seeding, adminKey, entities);
    console.log(`online: FStore's KV filled by reads in ${seconds(t1)} s (${passes} passes until every read was a KV hit)`);
    // FStore and the bare-KV Worker then serve two copies of the same state, compacted alike (a
    // store that has just taken 125,000 writes is slower to read than a fresh copy of it).
    await seeding.stop();
    for (const name of ["fstore-served", "bare-kv"]) await copyState(path.join(dir, "fstore-state"), path.join(dir, `${name}-state`));
    const [fstore, bareKv] = await Promise.all([
      startWorker({ name: "fstore-served", config: path.join(repoRoot, "wrangler.toml"), dir, envFile, snapshot: true }),
      startWorker({ name: "bare-kv", config: path.join(repoRoot, "bench", "bare-kv-worker", "wrangler.toml"), dir, snapshot: true }),
    ]);
    servers.push(fstore, bareKv);
    console.log(`online: FStore and the bare-KV Worker restarted on copies of FStore's KV and D1 state`);

    // Serving goes through a read-scoped key, as a model server would use.
    const created = JSON.parse(
      await call(`${fstore.url}/api/v1/keys`, { body: { name: "bench-reader", scopes: ["read"] }, headers: { authorization: `Bearer ${adminKey}` }, expect: 201 }),
    );
    const readKey = created.key;

    console.log(
      `online: load generator autocannon ${JSON.parse(readFileSync(path.join(repoRoot, "node_modules", "autocannon", "package.json"), "utf8")).version} ` +
        `in the benchmark process; FStore, the bare-KV Worker and the fixed-JSON Worker each in their own wrangler dev + workerd; Hono+Redis in a child node process ` +
        `(@hono/node-server, ioredis, redis-server ${redisVersion} on ${redisHost}); ${os.cpus().length} CPUs shared by all of them`,
    );

    for (const n of SCENARIOS) {
      const loadBefore = loadAverage();
      const rows = [];
      const all = targets({ fstore, bareKv, bare, redisService, readKey, serviceToken, n, entities });
      // FStore and its bare-KV baseline are measured in alternating rounds, so that whatever else
      // the shared machine does during the run weighs on both alike; context targets in one go.
      const groups = [];
      for (const t of all) {
        if (t.baseline) groups.push([t, all.find((b) => b.key === t.baseline)]);
        else if (!all.some((a) => a.baseline === t.key)) groups.push([t]);
      }
      for (const group of groups) {
        const state = new Map();
        for (const t of group) {
          await verify(t, "before the warm-up");
          // One connection, so the warm-up leaves (almost) no backlog behind for the measured run.
          const warm = await load(t, { connections: 1, durationS: opts.warmupS });
          const [, loneMs] = await verify(t, "after the warm-up");
          state.set(t, { warm, loneMs, parts: [] });
        }
        const rounds = group.length > 1 ? opts.rounds : 1;
        for (let round = 0; round < rounds; round++) {
          // Who goes first alternates too: neither always follows the other's leftovers.
          for (const t of round % 2 === 0 ? group : [...group].reverse()) {
            state.get(t).parts.push(await load(t, { connections: opts.connections, durationS: opts.durationS / rounds }));
          }
        }
        for (const t of group) {
          const { warm, loneMs, parts } = state.get(t);
          const r = merge(parts);
          const [backlogMs] = await verify(t, "after the measured run");
          for (const [phase, x] of [["warm-up", warm], ["measured run", r]]) {
            if (x.failed > 0 || x.ok !== x.requests || x.cutOff > 0) {
              failures.push(
                `${t.label} ${n}×50 ${phase}: ${x.failed} failed of ${x.requests} answers, ${x.cutOff} unanswered after ${GRACE_S} s ` +
                  `(status codes ${JSON.stringify(x.statusCodes)}, errors ${x.errors}, timeouts ${x.timeouts})`,
              );
            }
          }
          rows.push({ label: t.label, key: t.key, baseline: t.baseline, serverTiming: t.serverTiming, ...r, loneMs, backlogMs });
        }
      }
      rows.sort((a, b) => all.findIndex((t) => t.key === a.key) - all.findIndex((t) => t.key === b.key));
      printScenario(n, rows, opts, loadBefore);
      results[n] = rows;
    }
  } catch (err) {
    let message = err?.stack ?? String(err);
    for (const s of servers) message += `\n--- end of ${s.logFile} ---\n${tail(s.logFile, 20)}`;
    throw new Error(message, { cause: err });
  } finally {
    for (const s of servers) {
      const clean = await s.stop();
      if (!clean) console.error(`warning: processes of ${s.name} (group ${s.pid}) survived SIGKILL`);
    }
    try {
      if (redis.status === "ready") await cleanRedis(redis, prefix);
    } finally {
      redis.disconnect();
    }
  }

  for (const s of servers) {
    const problems = logProblems(s.logFile);
    if (problems.length > 0) {
      console.log(`\n${s.name}: printed ${problems.length} error/warning line(s), first ones:`);
      for (const l of problems.slice(0, 5)) console.log(`  ${l.slice(0, 300)}`);
    }
  }
  if (failures.length > 0) throw new Error(`failed requests under load:\n  ${failures.join("\n  ")}`);
  return results;
}
