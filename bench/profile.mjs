/**
 * CPU profile of FStore inside workerd: `node bench/profile.mjs`.
 *
 * Starts FStore under `wrangler dev` (a bundle of src/, fresh local state, an inspector port),
 * prepares one workload, then records a V8 CPU profile over the DevTools protocol
 * (Profiler.start/stop on wrangler's inspector) while it sends PROFILE_REQUESTS requests, one
 * after the other. It prints where the Worker's CPU went — self time and total (inclusive) time
 * per function — and keeps the `.cpuprofile` (loadable in Chrome DevTools) in .bench/.
 *
 * Workloads (PROFILE_ENDPOINT): `online` / `feast` — the online benchmark's vectors
 * (bench/online-workload.mjs) seeded through the API and read once so KV is warm, then requests of
 * PROFILE_ENTITIES entities × 50 features; `ingest` — batches of 1,000 new values
 * (`POST /api/v1/features/batch`), as the ingest benchmark sends them; `stream` — batches of 500
 * stream events with ids (`POST /api/v1/streams/{topic}/events`), as a bridge forwards them, into
 * the stream benchmark's windowed sum; the profile then runs on until the events consumer (same
 * isolate, same thread) has applied them all, so it holds the endpoint's and the consumer's work.
 *
 * Caveat, seen in every profile: the local KV and D1 simulators run on the same thread as the
 * Worker, and V8 charges their time to whatever Worker frame is on the stack (the KV binding's
 * `get`, the bindings' wrappers) — compare with the bare-KV Worker rather than reading those
 * frames as FStore's own work.
 *
 * Environment: PROFILE_ENDPOINT (online | feast | ingest | stream, default online), PROFILE_ENTITIES
 * (entities per request, default 100), PROFILE_REQUESTS (default 200), PROFILE_SEEDED (entities
 * seeded, default 500).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { bundleWorker, freePort, repoRoot, runWrangler, startWranglerDev, stopAll, tail, waitForHttp } from "../scripts/lib/wrangler.mjs";
import * as W from "./online-workload.mjs";

const endpoint = process.env.PROFILE_ENDPOINT ?? "online";
const perRequest = Number(process.env.PROFILE_ENTITIES ?? 100);
const requests = Number(process.env.PROFILE_REQUESTS ?? 200);
const seeded = Number(process.env.PROFILE_SEEDED ?? 500);
if (!["online", "feast", "ingest", "stream"].includes(endpoint)) throw new Error("PROFILE_ENDPOINT must be online, feast, ingest or stream");

const dir = path.join(repoRoot, ".bench", `profile-${new Date().toISOString().replace(/[:.]/g, "-")}`);
mkdirSync(dir, { recursive: true });
const logFile = path.join(dir, "fstore.log");
const adminKey = `bench_${randomBytes(24).toString("hex")}`;
const envFile = path.join(dir, "fstore.env");
writeFileSync(envFile, `FSTORE_ADMIN_KEY=${adminKey}\n`, { mode: 0o600 });
const auth = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };

async function post(url, body, expect = endpoint === "stream" ? 202 : 200) {
  const res = await fetch(url, { method: "POST", headers: auth, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`POST ${url}: ${res.status} ${text.slice(0, 300)}`);
  return { text, timing: res.headers.get("server-timing") };
}

/** One DevTools-protocol session on wrangler's inspector (the Worker's isolate). */
async function inspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const url = targets[0]?.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/`;
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id !== undefined && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error)));
      else resolve(msg.result);
    }
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        pending.set(++id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Self and total milliseconds per function (name + location) of a V8 CPU profile. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfMs = new Map();
  const totalMs = new Map();
  const label = (n) => {
    const f = n.callFrame;
    const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : "";
    return `${f.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
  };
  let sampled = 0;
  profile.samples.forEach((nodeId, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    sampled += ms;
    const node = byId.get(nodeId);
    selfMs.set(label(node), (selfMs.get(label(node)) ?? 0) + ms);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set();
    for (let id = nodeId; id !== undefined; id = parent.get(id)) {
      const l = label(byId.get(id));
      if (seen.has(l)) continue;
      seen.add(l);
      totalMs.set(l, (totalMs.get(l) ?? 0) + ms);
    }
  });
  return { sampled, selfMs, totalMs };
}

/** Median ms per Server-Timing metric over the profiled requests (the Worker's own phase timers). */
function printPhases(headers) {
  const byName = new Map();
  for (const header of headers) {
    for (const entry of (header ?? "").match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
      const [name, ...params] = entry.trim().split(";");
      const dur = params.find((p) => p.startsWith("dur="));
      if (name && dur) byName.set(name, [...(byName.get(name) ?? []), Number(dur.slice(4))]);
    }
  }
  if (byName.size === 0) return console.log("no Server-Timing in the answers");
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`Server-Timing, median over ${headers.length} requests (ms): ${[...byName].map(([n, xs]) => `${n} ${median(xs).toFixed(1)}`).join(", ")}`);
  console.log(`last Server-Timing: ${headers.at(-1)}`);
}

function printTop(title, map, sampled, n = 25) {
  console.log(`\n${title}`);
  const rows = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  for (const [name, ms] of rows) console.log(`${ms.toFixed(1).padStart(9)} ms ${((100 * ms) / sampled).toFixed(1).padStart(5)}%  ${name}`);
}

/** Seeds and warms the online workload; returns the endpoint and the request bodies to cycle through. */
async function prepareOnline(server) {
  console.log(`profile: FStore up at ${server.url}; seeding ${seeded} entities ...`);
  for (let g = 0; g < W.GROUPS; g++) {
    for (let f = 0; f < W.FEATURES_PER_GROUP; f++) {
      await post(`${server.url}/api/v1/features`, { name: W.featureName(g, f), entity_id: W.ENTITY, feature_group: W.groupName(g), value_type: "float" }, 201);
    }
  }
  let batch = [];
  for (const g of W.REQUEST_GROUPS) {
    for (let e = 0; e < seeded; e++) {
      const timestamp = new Date(W.eventTimeMs(g, e)).toISOString();
      for (let f = 0; f < W.FEATURES_PER_GROUP; f++) batch.push({ feature_id: W.featureName(g, f), entity_id: W.entityId(e), value: W.featureValue(g, f, e), timestamp });
      if (batch.length >= 10_000) {
        await post(`${server.url}/api/v1/features/batch`, batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) await post(`${server.url}/api/v1/features/batch`, batch);

  const bodies = [];
  for (let start = 0; start + perRequest <= seeded; start += perRequest) {
    const ids = Array.from({ length: perRequest }, (_, i) => W.entityId(start + i));
    bodies.push(
      endpoint === "online"
        ? JSON.stringify({ features: W.REQUEST_FEATURES.map((x) => x.name), entity_ids: ids })
        : JSON.stringify({ features: W.REQUEST_FEATURES.map((x) => `${x.group}:${x.name}`), entities: { [W.ENTITY]: ids } }),
    );
  }
  const url = `${server.url}${endpoint === "online" ? "/api/v1/online-features" : "/get-online-features"}`;
  // Reads fill KV (at most 200 vectors per request): read until every request is a KV hit.
  for (let pass = 0; pass < 20; pass++) {
    let misses = 0;
    for (const body of bodies) {
      const res = await fetch(url, { method: "POST", headers: auth, body });
      await res.arrayBuffer();
      if (res.headers.get("x-fstore-cache") !== "hit") misses++;
    }
    if (misses === 0) break;
    await sleep(1000);
  }
  return { url, bodies };
}

/** Registers the ingest benchmark's feature; the bodies are batches of 1,000 new entities each. */
async function prepareIngest(server) {
  await post(`${server.url}/api/v1/features`, { name: "bench_value", feature_group: "bench", entity_id: "customer" }, 201);
  const bodies = Array.from({ length: requests + 1 }, (_, b) =>
    JSON.stringify(Array.from({ length: 1000 }, (_, j) => ({ feature_id: "bench_value", entity_id: `customer_${b * 1000 + j}`, value: (b * 1000 + j) / 100, timestamp: new Date(Date.UTC(2026, 0, 1) + b * 1000 + j).toISOString() }))),
  );
  const url = `${server.url}/api/v1/features/batch`;
  await post(url, bodies.pop()); // warm-up
  return { url, bodies };
}

/** The stream benchmark's windowed sum over HTTP; bodies of 500 events with bridge-style ids; `settled` waits until all are applied. */
async function prepareStream(server) {
  await post(`${server.url}/api/v1/features`, { name: "bench_stream_sum", topic: "bench_profile", value_field: "amount", aggregation: "sum", window_size: "1h" }, 201);
  const bodies = Array.from({ length: requests + 1 }, (_, b) =>
    JSON.stringify(Array.from({ length: 500 }, (_, j) => {
      const n = b * 500 + j;
      return { key: `entity_${n % 1000}`, value: { amount: (n % 97) + 1, seq: n }, timestamp: Date.now(), id: `kafka/bench_profile/0/${n}` };
    })),
  );
  const url = `${server.url}/api/v1/streams/bench_profile/events`;
  const applied = async () => {
    const { streams } = await (await fetch(`${server.url}/api/v1/streams`, { headers: auth })).json();
    const s = streams.find((x) => x.topic === "bench_profile");
    return Number(s?.stats?.events ?? 0) + Number(s?.stats?.duplicates ?? 0);
  };
  const settled = async (count) => {
    const deadline = Date.now() + 300_000;
    while ((await applied()) < count) {
      if (Date.now() > deadline) throw new Error(`stream: not all ${count} events applied after 5 minutes`);
      await sleep(20);
    }
  };
  await post(url, bodies.pop()); // warm-up
  await settled(500);
  return { url, bodies, settled: () => settled(500 * (requests + 1)) };
}

const config = path.join(repoRoot, "wrangler.toml");
const persistTo = path.join(dir, "state");
const script = await bundleWorker({ config, outdir: path.join(dir, "bundle"), logFile });
await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config], { logFile });
const server = await startWranglerDev({ config, script, port: await freePort(), persistTo, envFile, logFile });
const inspectorPort = server.inspectorPort;
try {
  await waitForHttp(server, "/health", { logFile });
  const { url, bodies, settled } = endpoint === "ingest" ? await prepareIngest(server) : endpoint === "stream" ? await prepareStream(server) : await prepareOnline(server);
  const session = await inspector(inspectorPort);
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: 100 });
  await session.send("Profiler.start");
  const t0 = performance.now();
  const timings = [];
  for (let i = 0; i < requests; i++) timings.push((await post(url, bodies[i % bodies.length])).timing);
  const sentMs = performance.now() - t0;
  if (settled) await settled();
  const wallMs = performance.now() - t0;
  if (settled) console.log(`\nprofile: the ${requests} requests were answered in ${sentMs.toFixed(0)} ms; all events applied after ${wallMs.toFixed(0)} ms`);
  const { profile } = await session.send("Profiler.stop");
  session.close();

  const file = path.join(dir, `${endpoint}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const { sampled, selfMs, totalMs } = summarize(profile);
  const idle = selfMs.get("(idle)") ?? 0;
  console.log(
    `\nprofile: ${requests} sequential ${endpoint} requests${endpoint === "ingest" ? " of 1,000 values" : endpoint === "stream" ? " of 500 events (and their consumer)" : ` of ${perRequest}×50`} in ${wallMs.toFixed(0)} ms (${(wallMs / requests).toFixed(1)} ms each); ` +
      `Worker isolate busy ${((sampled - idle) / requests).toFixed(2)} ms per request, idle (waiting on KV/D1/the client) ${(idle / requests).toFixed(2)} ms`,
  );
  printPhases(timings);
  printTop("self time (whole run):", selfMs, sampled);
  printTop("total time, inclusive (whole run):", totalMs, sampled);
  console.log(`\nprofile written to ${path.relative(repoRoot, file)}`);
} catch (err) {
  console.error(`${err.stack}\n--- end of ${logFile} ---\n${tail(logFile, 30)}`);
  process.exitCode = 1;
} finally {
  await server.stop();
  await stopAll();
}
