/**
 * Stream benchmark: events/s from Kafka (librdkafka's mock cluster, hosted by kcat) through the
 * stream bridge (connectors/streams/bridge.ts, in this process) into FStore under `wrangler dev` —
 * 202 once on the `events` Queue, then the events consumer applies windows and writes values —
 * against the same events through the same bridge into a bare Worker that only enqueues them and
 * inserts them into D1 (bench/bare-stream-worker). Each target gets its own topic with the same
 * BENCH_STREAM_EVENTS records produced beforehand; a target's time runs from the bridge's first
 * forward to the moment all events are applied (FStore: its stream stats count them; bare: its
 * table holds them), so the consumer group's join is not counted. The two run one after the other.
 *
 * Then freshness, FStore only: with the bridge caught up, one record at a time is produced to a
 * topic a `last` feature reads, and its value is polled (every 5 ms) until readable over the REST
 * API; p50/p99 of produce → readable over BENCH_STREAM_SAMPLES records.
 *
 * Environment: BENCH_STREAM_EVENTS (default 50000: with 20,000 the bare Worker is done in under a
 * second, and start-up and the 50 ms poll move the ratio by ±10%), BENCH_STREAM_SAMPLES (default 100).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Kafka, logLevel } from "kafkajs";
import { startKafkaMock } from "../scripts/lib/kafka-mock.mjs";
import { percentile, repoRoot, withServer } from "../scripts/lib/wrangler.mjs";
import { fmt, intFromEnv } from "./options.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function produceAll(producer, topic, count) {
  const batch = 1000;
  for (let i = 0; i < count; i += batch) {
    const messages = [];
    for (let j = i; j < Math.min(i + batch, count); j++) messages.push({ key: `entity_${j % 1000}`, value: JSON.stringify({ amount: (j % 97) + 1, seq: j }) });
    await producer.send({ topic, messages });
  }
}

/** Runs the bridge against `url` until `applied()` reaches `count`; events/s from the first forward on. */
async function drain({ label, url, apiKey, topics, count, applied, log }) {
  const { StreamBridge } = await import("../connectors/streams/bridge.ts");
  let firstForward = null;
  const posts = [];
  const timedFetch = async (input, init) => {
    if (!String(input).includes("/events")) return fetch(input, init);
    const t0 = performance.now();
    if (firstForward === null) firstForward = t0;
    const res = await fetch(input, init);
    posts.push(performance.now() - t0);
    return res;
  };
  const bridge = new StreamBridge({ url, apiKey, topics, statsMs: 0, log, fetch: timedFetch, kafka: { sessionTimeout: 10_000 } });
  await bridge.start();
  const deadline = Date.now() + 15 * 60_000;
  let n = 0;
  try {
    for (;;) {
      n = await applied();
      if (n >= count) break;
      if (Date.now() > deadline) throw new Error(`${label}: only ${n} of ${count} events applied after 15 minutes`);
      await sleep(50);
    }
  } finally {
    await bridge.stop();
  }
  const seconds = (performance.now() - firstForward) / 1000;
  posts.sort((a, b) => a - b);
  return { label, count, seconds, eventsPerSec: count / seconds, posts: posts.length, postP50: percentile(posts, 50) };
}

export async function stream(ctx) {
  const count = intFromEnv("BENCH_STREAM_EVENTS", 50_000, 1, 1_000_000);
  const samples = intFromEnv("BENCH_STREAM_SAMPLES", 100, 1, 10_000);
  const dir = ctx.dir;
  mkdirSync(dir, { recursive: true });
  const logLines = [];
  const log = (line) => logLines.push(line);

  const mock = await startKafkaMock({ brokers: 3 });
  console.log(`stream: librdkafka mock cluster (kcat) at ${mock.brokers}; ${fmt(count)} events per target`);
  const kafka = new Kafka({ brokers: mock.brokers.split(","), clientId: "fstore-bench", logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const adminKey = `bench_${randomBytes(24).toString("hex")}`;
  const envFile = path.join(dir, "fstore.env");
  writeFileSync(envFile, `FSTORE_ADMIN_KEY=${adminKey}\nFSTORE_SECRET_KEY=${randomBytes(32).toString("base64url")}\nFSTORE_EGRESS_ALLOW=loopback\n`, { mode: 0o600 });
  const connector = (group) => ({ bootstrap_servers: mock.brokers, group_id: group, auto_offset_reset: "earliest" });
  try {
    const results = {};
    const { problems: fstoreProblems } = await withServer({ name: "fstore", config: path.join(repoRoot, "wrangler.toml"), dir, envFile, snapshot: true }, async ({ url }) => {
      const call = async (method, apiPath, body) => {
        const res = await fetch(`${url}${apiPath}`, { method, headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await res.text();
        if (res.status >= 300 && res.status !== 404) throw new Error(`${method} ${apiPath}: ${res.status} ${text.slice(0, 300)}`);
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      };
      await call("POST", "/api/v1/connectors", { name: "bench_kafka", type: "kafka", config: connector("bench_fstore") });
      await call("POST", "/api/v1/features", { name: "bench_stream_sum", topic: "bench_fstore", value_field: "amount", aggregation: "sum", window_size: "1h", connector: "bench_kafka" });
      await call("POST", "/api/v1/features", { name: "bench_stream_last", topic: "bench_fresh", value_field: "amount", connector: "bench_kafka" });
      await produceAll(producer, "bench_fstore", count);
      // How many events the feature has applied: one feature's counters (as light as the bare Worker's count), not every stream's.
      const applied = async () => {
        const { body } = await call("GET", "/api/v1/features/bench_stream_sum");
        return Number(body.stream_stats?.events ?? 0) + Number(body.stream_stats?.duplicates ?? 0);
      };
      results.fstore = await drain({ label: "FStore", url, apiKey: adminKey, topics: ["bench_fstore"], count, applied, log });

      // Freshness: the bridge caught up on bench_fresh; one record at a time, polled until readable.
      const { StreamBridge } = await import("../connectors/streams/bridge.ts");
      const bridge = new StreamBridge({ url, apiKey: adminKey, topics: ["bench_fresh"], statsMs: 0, log, kafka: { sessionTimeout: 10_000 } });
      await bridge.start();
      try {
        await producer.send({ topic: "bench_fresh", messages: [{ key: "warmup", value: JSON.stringify({ amount: 0 }) }] });
        const warmDeadline = Date.now() + 120_000;
        while ((await call("GET", "/api/v1/features/bench_stream_last/values/warmup")).status !== 200) {
          if (Date.now() > warmDeadline) throw new Error("the freshness warm-up record never became readable");
          await sleep(20);
        }
        const latencies = [];
        for (let i = 0; i < samples; i++) {
          const t0 = performance.now();
          await producer.send({ topic: "bench_fresh", messages: [{ key: `fresh_${i}`, value: JSON.stringify({ amount: i }) }] });
          const deadline = Date.now() + 60_000;
          while ((await call("GET", `/api/v1/features/bench_stream_last/values/fresh_${i}`)).status !== 200) {
            if (Date.now() > deadline) throw new Error(`record fresh_${i} was not readable after 60 s`);
            await sleep(5);
          }
          latencies.push(performance.now() - t0);
        }
        latencies.sort((a, b) => a - b);
        results.freshness = { p50: percentile(latencies, 50), p99: percentile(latencies, 99), min: latencies[0], max: latencies.at(-1), samples };
      } finally {
        await bridge.stop();
      }
    });
    const { problems: bareProblems } = await withServer({ name: "bare-stream", config: path.join(repoRoot, "bench", "bare-stream-worker", "wrangler.toml"), dir }, async ({ url }) => {
      await fetch(`${url}/subscribe`, { method: "POST", body: JSON.stringify({ topic: "bench_bare", connector: { name: "bare_kafka", type: "kafka", config: connector("bench_bare"), secret_fields: [] } }) });
      await produceAll(producer, "bench_bare", count);
      const applied = async () => (await (await fetch(`${url}/count?topic=bench_bare`)).json()).count;
      results.bare = await drain({ label: "bare stream Worker", url, topics: ["bench_bare"], count, applied, log });
    });

    const { fstore, bare, freshness } = results;
    console.log(`\nstream: ${fmt(count)} events Kafka → bridge → Worker → Queue → applied, per target (load average ${os.loadavg()[0].toFixed(2)})`);
    for (const r of [fstore, bare]) {
      console.log(`  ${r.label.padEnd(20)} ${fmt(r.eventsPerSec).padStart(8)} events/s  (${fmt(r.seconds, 2)} s; ${r.posts} requests, p50 ${fmt(r.postP50, 1)} ms to the 202)`);
    }
    const ratio = fstore.eventsPerSec / bare.eventsPerSec;
    console.log(`throughput FStore / bare: ${ratio.toFixed(2)}x  (target ≥ 0.5x)`);
    console.log(
      `freshness produce → readable (FStore, ${freshness.samples} records one at a time): p50 ${fmt(freshness.p50, 1)} ms, p99 ${fmt(freshness.p99, 1)} ms, ` +
        `min ${fmt(freshness.min, 1)} ms, max ${fmt(freshness.max, 1)} ms  (target p99 < 1000 ms)`,
    );
    for (const [label, problems] of [["FStore", fstoreProblems], ["bare", bareProblems]]) {
      if (problems.length > 0) {
        console.log(`\n${label}: wrangler dev printed ${problems.length} error/warning line(s), first ones:`);
        for (const l of problems.slice(0, 5)) console.log(`  ${l.slice(0, 300)}`);
      }
    }
    const bridgeProblems = logLines.filter((l) => /failed|refused|dropped/.test(l));
    if (bridgeProblems.length > 0) console.log(`bridge: ${bridgeProblems.length} problem line(s), first: ${bridgeProblems.slice(0, 3).join(" | ")}`);
    return { ...results, ratio };
  } finally {
    await producer.disconnect().catch(() => undefined);
    await mock.stop();
  }
}
