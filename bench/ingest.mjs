/**
 * Ingest benchmark: sequential `POST /api/v1/features/batch` requests of 1,000 values each to
 * FStore under `wrangler dev`, against the same batches pushed to a bare Worker that writes them
 * straight into D1 with the same SQL (bench/bare-d1-worker). Both run side by side with fresh local
 * state; each gets one warm-up batch, then BENCH_BATCHES measured batches, alternating between them.
 *
 * FStore's figures include what a batch sets off: the online-cache refresh of the vectors KV holds
 * (a batch of 1,000 new entities touches 1,000 vectors, none cached: one more statement in the
 * batch's D1 transaction, no KV write). The bare Worker's tables are FStore's (foreign keys, index).
 * FStore's Server-Timing is summed per phase (auth, registry, validate, d1, kv, queue, total) and
 * printed as a mean per batch, to show where a batch's time goes.
 *
 * Environment: BENCH_BATCHES (default 40), BENCH_BATCH_SIZE (default 1000, at most 10,000).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { percentile, repoRoot, withServer } from "../scripts/lib/wrangler.mjs";
import { fmt, intFromEnv } from "./options.mjs";

const FEATURE = { name: "bench_value", feature_group: "bench", entity_id: "customer" };
const REQUEST_TIMEOUT_MS = 120_000;

/** A small deterministic PRNG (mulberry32), so every run and both targets push the same values. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Request bodies: batch 0 is the warm-up, 1..batches are measured. Entity ids are distinct across
 * all batches (customer_<i>), timestamps one millisecond apart from a fixed start.
 */
function buildBodies(batches, size) {
  const random = prng(20_261_101);
  const start = Date.UTC(2026, 0, 1);
  const bodies = [];
  for (let b = 0; b <= batches; b++) {
    const items = [];
    for (let j = 0; j < size; j++) {
      const i = b * size + j;
      items.push({
        feature_id: FEATURE.name,
        entity_id: `customer_${i}`,
        value: Math.round(random() * 1e8) / 100,
        timestamp: new Date(start + i).toISOString(),
      });
    }
    bodies.push(JSON.stringify(items));
  }
  return bodies;
}

async function post(url, body, headers) {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - t0, serverTiming: res.headers.get("server-timing") };
}

/** Milliseconds per Server-Timing metric (`name;dur=ms;...`), and each metric's last description. */
function parseServerTiming(header) {
  const out = new Map();
  // Entries are separated by commas outside quoted descriptions.
  for (const entry of (header ?? "").match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const [name, ...params] = entry.trim().split(";");
    if (!name) continue;
    const dur = params.find((p) => p.startsWith("dur="));
    const desc = params.find((p) => p.startsWith("desc="));
    out.set(name, { ms: dur ? Number(dur.slice(4)) : 0, desc: desc ? desc.slice(5).replace(/^"|"$/g, "") : undefined });
  }
  return out;
}

/**
 * Pushes the warm-up batch to each target, then the measured batches in sequence, alternating
 * between the targets (batch b to FStore, then batch b to the bare Worker, ...) so that whatever
 * else the shared machine does weighs on both alike. Throws on any answer but 200 with all values
 * written. values/s = values / the sum of that target's batch latencies.
 */
async function pushBatches(targets, bodies, size) {
  const check = (t, r, which) => {
    let written;
    try {
      written = JSON.parse(r.text).written;
    } catch {
      written = undefined;
    }
    if (r.status !== 200 || written !== size) {
      throw new Error(`${t.label}: ${which} answered ${r.status} (expected 200 with written=${size}): ${r.text.slice(0, 500)}`);
    }
  };
  const state = targets.map((t) => ({ t, latencies: [], phases: new Map(), descs: new Map(), warmupMs: 0 }));
  for (const s of state) {
    const warm = await post(s.t.url, bodies[0], s.t.headers);
    check(s.t, warm, "warm-up batch");
    s.warmupMs = warm.ms;
  }
  for (let b = 1; b < bodies.length; b++) {
    for (const s of state) {
      const r = await post(s.t.url, bodies[b], s.t.headers);
      check(s.t, r, `batch ${b}/${bodies.length - 1}`);
      s.latencies.push(r.ms);
      // Server-Timing metric → summed ms over the measured batches (FStore reports them; the bare Worker does not).
      for (const [name, { ms, desc }] of parseServerTiming(r.serverTiming)) {
        s.phases.set(name, (s.phases.get(name) ?? 0) + ms);
        if (desc) s.descs.set(name, desc);
      }
    }
  }
  return state.map(({ t, latencies, phases, descs, warmupMs }) => {
    const values = latencies.length * size;
    const busyMs = latencies.reduce((a, b) => a + b, 0);
    const inOrder = [...latencies];
    latencies.sort((x, y) => x - y);
    return {
      label: t.label,
      phases: [...phases].map(([name, ms]) => ({ name, ms: ms / latencies.length, desc: descs.get(name) })),
      inOrder,
      values,
      busyMs,
      warmupMs,
      valuesPerSec: values / (busyMs / 1000),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      min: latencies[0],
      max: latencies.at(-1),
    };
  });
}


function printTable(rows, batches, size) {
  const header = ["target", "values/s", "p50 ms", "p99 ms", "min ms", "max ms", "busy s"];
  const lines = rows.map((r) => [r.label, fmt(r.valuesPerSec), fmt(r.p50, 1), fmt(r.p99, 1), fmt(r.min, 1), fmt(r.max, 1), fmt(r.busyMs / 1000, 2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(
    `\ningest: ${batches} sequential batches of ${fmt(size)} values (${fmt(batches * size)} values) per target, alternating between the targets, ` +
      `after 1 warm-up batch each; load average ${os.loadavg()[0].toFixed(2)}`,
  );
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(line(l));
  if (batches < 100) console.log(`(latencies are per batch request, nearest rank; with ${batches} batches p99 is the slowest one)`);
}

/**
 * The ingest benchmark. `ctx.dir` is a fresh directory for this run's state and logs.
 * Returns the measured rows; throws when anything failed.
 */
export async function ingest(ctx) {
  const batches = intFromEnv("BENCH_BATCHES", 40, 1, 10_000);
  const size = intFromEnv("BENCH_BATCH_SIZE", 1000, 1, 10_000);
  const dir = ctx.dir;
  mkdirSync(dir, { recursive: true });
  const bodies = buildBodies(batches, size);

  // The admin key goes to wrangler through an env file (not the command line); with --env-file
  // wrangler also ignores any .dev.vars in the project.
  const adminKey = `bench_${randomBytes(24).toString("hex")}`;
  const envFile = path.join(dir, "fstore.env");
  writeFileSync(envFile, `FSTORE_ADMIN_KEY=${adminKey}\n`, { mode: 0o600 });
  const auth = { authorization: `Bearer ${adminKey}` };

  console.log(`ingest: FStore (wrangler.toml, serving a bundle of src/ taken now) and the bare D1 Worker (bench/bare-d1-worker) ...`);
  let bareProblems = [];
  const { rows, problems: fstoreProblems } = await withServer(
    { name: "fstore", config: path.join(repoRoot, "wrangler.toml"), dir, envFile, snapshot: true },
    async ({ url: fstoreUrl }) => {
      const res = await fetch(`${fstoreUrl}/api/v1/features`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify(FEATURE),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`registering ${FEATURE.name} answered ${res.status}: ${text.slice(0, 500)}`);
      const inner = await withServer({ name: "bare", config: path.join(repoRoot, "bench", "bare-d1-worker", "wrangler.toml"), dir }, async ({ url: bareUrl }) => ({
        rows: await pushBatches(
          [
            { label: "FStore", url: `${fstoreUrl}/api/v1/features/batch`, headers: auth },
            { label: "bare D1 Worker", url: `${bareUrl}/batch`, headers: {} },
          ],
          bodies,
          size,
        ),
      }));
      bareProblems = inner.problems;
      return { rows: inner.rows };
    },
  );
  const [fstore, bare] = rows;
  fstore.problems = fstoreProblems;
  bare.problems = bareProblems;

  printTable([fstore, bare], batches, size);
  const ratio = fstore.valuesPerSec / bare.valuesPerSec;
  console.log(`\nthroughput FStore / bare: ${ratio.toFixed(ratio < 0.1 ? 3 : 2)}x  (FStore reaches ${(ratio * 100).toFixed(1)}% of the bare Worker's values/s; target ≥ 0.7x)`);
  console.log(`warm-up batch: FStore ${fmt(fstore.warmupMs, 1)} ms, bare ${fmt(bare.warmupMs, 1)} ms`);
  if (batches <= 50) {
    for (const r of [fstore, bare]) console.log(`${r.label} batch latencies in order (ms): ${r.inOrder.map((ms) => ms.toFixed(0)).join(" ")}`);
  }
  if (fstore.phases.length > 0) {
    console.log("FStore Server-Timing, mean per batch (ms; phases overlap, total is the Worker's):");
    for (const { name, ms, desc } of fstore.phases) console.log(`  ${name.padEnd(9)} ${fmt(ms, 1).padStart(7)}${desc ? `  (last batch: ${desc})` : ""}`);
  }
  for (const r of [fstore, bare]) {
    if (r.problems.length > 0) {
      console.log(`\n${r.label}: wrangler dev printed ${r.problems.length} error/warning line(s), first ones:`);
      for (const l of r.problems.slice(0, 5)) console.log(`  ${l.slice(0, 300)}`);
    }
  }
  return { fstore, bare, ratio };
}
