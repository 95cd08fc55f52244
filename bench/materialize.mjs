/**
 * Materialize benchmark: BENCH_MATERIALIZE_ROWS rows (default 1,000,000) from PostgreSQL into D1
 * through FStore under `wrangler dev` (Postgres connector → pgproxy → read-only cursor → staging →
 * one promotion batch), beside a bare Worker (bench/bare-sql-worker) that reads the same rows the
 * same way and batch-inserts them straight into D1 — the limit of our sink. Prints rows/s, the
 * peak resident memory of each workerd, and the ratio.
 *
 * Needs the local PostgreSQL (bash scripts/services.sh). Seeds database `fstore_bench` once
 * (re-seeded when the row count changes).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Client, neonConfig } from "@neondatabase/serverless";
import ws from "ws";
import { startPgProxy } from "../scripts/pgproxy.mjs";
import { freePort, repoRoot, withServer } from "../scripts/lib/wrangler.mjs";
import { fmt } from "./options.mjs";

const DATABASE = "fstore_bench";
const QUERY = "SELECT entity_id, value, ts FROM bench_rows";
const BATCH = 5000; // FStore's PULL_BATCH_ROWS

function rowsFromEnv() {
  const raw = process.env.BENCH_MATERIALIZE_ROWS ?? "1000000";
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1000 || n > 10_000_000) throw new Error(`BENCH_MATERIALIZE_ROWS must be an integer from 1,000 to 10,000,000, got '${raw}'`);
  return n;
}

async function pg(proxy, database, fn) {
  neonConfig.webSocketConstructor = ws;
  const c = new Client({ host: "127.0.0.1", port: 5432, user: "postgres", password: "", database });
  c.neonConfig.wsProxy = proxy;
  c.neonConfig.useSecureWebSocket = false;
  c.neonConfig.pipelineConnect = false;
  c.on("error", () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function seed(proxy, rows) {
  await pg(proxy, "postgres", async (c) => {
    const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (!rowCount) await c.query(`CREATE DATABASE ${DATABASE}`);
  });
  await pg(proxy, DATABASE, async (c) => {
    const have = await c.query("SELECT to_regclass('bench_rows') IS NOT NULL AS t");
    const count = have.rows[0].t ? Number((await c.query("SELECT count(*) AS n FROM bench_rows")).rows[0].n) : -1;
    if (count === rows) return;
    console.log(`materialize: seeding ${rows.toLocaleString("en-US")} rows into ${DATABASE}.bench_rows ...`);
    await c.query(`DROP TABLE IF EXISTS bench_rows;
      CREATE TABLE bench_rows AS
        SELECT 'customer_' || i AS entity_id, round((random() * 1000)::numeric, 2)::float8 AS value,
               TIMESTAMPTZ '2026-01-01 00:00:00+00' + make_interval(secs => i) AS ts
          FROM generate_series(1, ${Number(rows)}) AS i;`);
  });
}

/** Samples the resident memory (KiB) of the workerd processes in a process group; returns a stop() giving the peak. */
function sampleRss(pgid) {
  let peak = 0;
  const read = () => {
    try {
      const out = execFileSync("ps", ["-o", "rss=,comm=", "-g", String(pgid)], { encoding: "utf8" });
      for (const line of out.trim().split("\n")) {
        const [rss, comm] = line.trim().split(/\s+/);
        if (comm?.startsWith("workerd")) peak = Math.max(peak, Number(rss));
      }
    } catch {
      // the group may be between processes
    }
  };
  read();
  const timer = setInterval(read, 250);
  return () => {
    clearInterval(timer);
    read();
    return peak;
  };
}

async function postJson(url, body, headers = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60 * 60_000),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}


export async function materialize(ctx) {
  const rows = rowsFromEnv();
  const dir = ctx.dir;
  mkdirSync(dir, { recursive: true });
  const proxyPort = await freePort();
  const proxy = await startPgProxy({ port: proxyPort, allow: "127.0.0.1:5432" });
  const wsProxy = `127.0.0.1:${proxy.port}/v2`;
  try {
    await seed(wsProxy, rows);
    const config = { host: "127.0.0.1", port: 5432, database: DATABASE, user: "postgres", password: "", ws_proxy: wsProxy };

    const adminKey = `bench_${randomBytes(24).toString("hex")}`;
    const envFile = path.join(dir, "fstore.env");
    writeFileSync(envFile, `FSTORE_EGRESS_ALLOW=loopback\nFSTORE_ADMIN_KEY=${adminKey}\nFSTORE_SECRET_KEY=${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
    const auth = { authorization: `Bearer ${adminKey}` };

    console.log(`materialize: FStore (bundle of src/ under wrangler dev), ${fmt(rows)} rows ...`);
    const fstore = await withServer({ name: "fstore", config: path.join(repoRoot, "wrangler.toml"), dir, envFile, snapshot: true }, async (server) => {
      const c = await postJson(`${server.url}/api/v1/connectors`, { name: "bench_pg", type: "postgres", config }, auth);
      if (c.status !== 201) throw new Error(`creating the connector answered ${c.status}: ${c.text.slice(0, 300)}`);
      const f = await postJson(`${server.url}/api/v1/features`, { name: "bench_sql", entity_id: "customer", connector: "bench_pg", query: QUERY }, auth);
      if (f.status !== 201) throw new Error(`registering the feature answered ${f.status}: ${f.text.slice(0, 300)}`);
      const stop = sampleRss(server.pid);
      const t0 = performance.now();
      const r = await postJson(`${server.url}/api/v1/features/bench_sql/materialize?wait=true`, {}, auth);
      const ms = performance.now() - t0;
      const peakKiB = stop();
      if (r.status !== 200) throw new Error(`materialize answered ${r.status}: ${r.text.slice(0, 500)}`);
      const run = r.json();
      if (run.status !== "succeeded" || run.rows_written !== rows) throw new Error(`run did not write ${rows} rows: ${r.text.slice(0, 500)}`);
      // duration_ms: from the run's start to its values being committed and visible (the run record);
      // the request also waits for the online-cache refresh jobs to be enqueued, and the local
      // runtime starts working them off at once, on the same two cores.
      return { label: "FStore run", rows, ms: run.duration_ms, requestMs: ms, peakKiB };
    });

    console.log(`materialize: bare loop (bench/bare-sql-worker) ...`);
    const bare = await withServer({ name: "bare", config: path.join(repoRoot, "bench", "bare-sql-worker", "wrangler.toml"), dir }, async (server) => {
      const stop = sampleRss(server.pid);
      const t0 = performance.now();
      const r = await postJson(`${server.url}/run`, { config, query: QUERY, batch: BATCH });
      const ms = performance.now() - t0;
      const peakKiB = stop();
      if (r.status !== 200 || r.json().rows !== rows) throw new Error(`bare loop answered ${r.status}: ${r.text.slice(0, 500)}`);
      return { label: "bare loop", rows, ms, requestMs: ms, peakKiB };
    });

    console.log(`\nmaterialize: ${fmt(rows)} rows PostgreSQL → D1 (cursor batches of ${fmt(BATCH)}), wrangler dev, local D1`);
    console.log("target        rows/s   run s   request s   peak workerd RSS MiB");
    for (const r of [fstore, bare]) {
      console.log(
        `${r.label.padEnd(12)} ${fmt(r.rows / (r.ms / 1000)).padStart(8)}  ${fmt(r.ms / 1000, 1).padStart(6)}  ${fmt(r.requestMs / 1000, 1).padStart(9)}   ${fmt(r.peakKiB / 1024, 0).padStart(8)}`,
      );
    }
    console.log("(run s: pull + stage + promote until the values are committed; request s: the whole HTTP call)");
    const ratio = fstore.ms > 0 ? bare.ms / fstore.ms : 0;
    console.log(`\nthroughput FStore / bare loop: ${ratio.toFixed(2)}x (FStore's run also stages every row, promotes in one transaction and compares with the latest values)`);
    return { fstore, bare };
  } finally {
    await proxy.close();
  }
}
