/**
 * Data-lake benchmark: a BENCH_LAKE_ROWS-row Parquet file (default 1,000,000 rows, snappy, row
 * groups of 100,000, written with hyparquet-writer) is put into s3rver and ingested by FStore under
 * `wrangler dev` (S3 connector, one file feature, a queued run that continues across invocations);
 * beside it, in the same run, bare hyparquet decodes the same file from the same s3rver through
 * the same range requests in this Node process. Prints rows/s and peak memory of both, and the
 * ratio.
 *
 * FStore's time is from the run's creation (the materialize request) to its `finished_at`, by the
 * Worker's clock: listing, ranged reads, decoding, shaping, staging every row in D1 and promoting
 * them into history and latest values. The KV online-cache refresh that follows (one vector per
 * entity, through the jobs queue) is not included; while it runs, local workerd answers other
 * requests late, which is why the poll's wall time is printed separately. Peak memory is the highest RSS of the workerd process serving FStore, sampled every
 * 100 ms, against its RSS when idle; for bare hyparquet the highest RSS of this process above its
 * level before decoding.
 *
 * Environment: BENCH_LAKE_ROWS (default 1000000).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { AwsClient } from "aws4fetch";
import { asyncBufferFromUrl, parquetMetadataAsync, parquetRead } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { S3RVER_KEY, s3Writer, startS3rver } from "../scripts/lake-servers.mjs";
import { bundleWorker, freePort, repoRoot, runWrangler, startWranglerDev, tail, waitForHttp } from "../scripts/lib/wrangler.mjs";
import { fmt } from "./options.mjs";

const BUCKET = "bench";
const KEY = "events/part-0000.parquet";
const ROW_GROUP = 100_000;

function rowsFromEnv() {
  const raw = process.env.BENCH_LAKE_ROWS;
  if (raw === undefined || raw === "") return 1_000_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1000 || n > 20_000_000) throw new Error(`BENCH_LAKE_ROWS must be an integer from 1,000 to 20,000,000, got '${raw}'`);
  return n;
}

function buildParquet(rows) {
  const start = Date.UTC(2026, 0, 1);
  const ids = new Array(rows);
  const values = new Float64Array(rows);
  const times = new Array(rows);
  for (let i = 0; i < rows; i++) {
    ids[i] = `user_${i}`;
    values[i] = (i % 1000) / 8;
    times[i] = new Date(start + i * 1000);
  }
  return new Uint8Array(
    parquetWriteBuffer({
      codec: "SNAPPY",
      rowGroupSize: ROW_GROUP,
      columnData: [
        { name: "entity_id", data: ids, type: "STRING" },
        { name: "value", data: values, type: "DOUBLE" },
        { name: "timestamp", data: times, type: "TIMESTAMP" },
      ],
    }),
  );
}

/** Samples `measure()` every 100 ms until stopped; returns the peak. */
function sampler(measure) {
  let peak = measure();
  const timer = setInterval(() => {
    const v = measure();
    if (v > peak) peak = v;
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      const v = measure();
      return v > peak ? v : peak;
    },
  };
}

/** RSS (bytes) of the workerd processes in wrangler dev's process group. */
function workerdRss(pgid) {
  try {
    const out = execFileSync("ps", ["-o", "rss=,comm=", "-g", String(pgid)], { encoding: "utf8" });
    return out
      .split("\n")
      .filter((l) => /workerd/.test(l))
      .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[0]) * 1024, 0);
  } catch {
    return 0;
  }
}

/** Bare hyparquet: the same three columns, row group by row group, through signed range requests to s3rver. */
async function bareDecode(endpoint, rows) {
  const client = new AwsClient({ ...S3RVER_KEY, service: "s3", region: "us-east-1" });
  const url = `${endpoint}/${BUCKET}/${KEY}`;
  globalThis.gc?.();
  const base = process.memoryUsage().rss;
  const mem = sampler(() => process.memoryUsage().rss);
  const t0 = performance.now();
  const file = await asyncBufferFromUrl({ url, fetch: (u, init) => client.fetch(u, init) });
  const metadata = await parquetMetadataAsync(file);
  let decoded = 0;
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    await parquetRead({
      file,
      metadata,
      columns: ["entity_id", "value", "timestamp"],
      rowStart: groupStart,
      rowEnd: groupEnd,
      onComplete: (r) => (decoded += r.length),
    });
    groupStart = groupEnd;
  }
  const ms = performance.now() - t0;
  const peak = mem.stop();
  if (decoded !== rows) throw new Error(`bare hyparquet decoded ${decoded} rows, expected ${rows}`);
  return { ms, rowsPerSec: rows / (ms / 1000), peakBytes: peak - base };
}

async function api(url, method, pathName, key, body) {
  const res = await fetch(`${url}${pathName}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

async function fstoreIngest(dir, endpoint, rows) {
  const persistTo = path.join(dir, "fstore-state");
  const logFile = path.join(dir, "fstore.log");
  mkdirSync(persistTo, { recursive: true });
  const adminKey = `bench_${randomBytes(24).toString("hex")}`;
  const envFile = path.join(dir, "fstore.env");
  writeFileSync(envFile, `FSTORE_EGRESS_ALLOW=loopback\nFSTORE_ADMIN_KEY=${adminKey}\nFSTORE_SECRET_KEY=${randomBytes(24).toString("hex")}\n`, { mode: 0o600 });
  const config = path.join(repoRoot, "wrangler.toml");
  const script = await bundleWorker({ config, outdir: path.join(dir, "fstore-bundle"), logFile });
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config], { logFile });
  const server = await startWranglerDev({ config, script, port: await freePort(), persistTo, envFile, logFile });
  try {
    await waitForHttp(server, "/health", { logFile });
    const connector = await api(server.url, "POST", "/api/v1/connectors", adminKey, {
      name: "bench_s3",
      type: "s3",
      config: { bucket: BUCKET, aws_access_key_id: S3RVER_KEY.accessKeyId, aws_secret_access_key: S3RVER_KEY.secretAccessKey, region: "us-east-1", endpoint },
    });
    if (connector.status !== 201) throw new Error(`creating the connector answered ${connector.status}: ${connector.text}`);
    const feature = await api(server.url, "POST", "/api/v1/features", adminKey, { name: "bench_lake_value", entity_id: "user", connector: "bench_s3", path: "events/*.parquet" });
    if (feature.status !== 201) throw new Error(`registering the feature answered ${feature.status}: ${feature.text}`);
    await new Promise((r) => setTimeout(r, 1000));
    const idle = workerdRss(server.pid);
    const mem = sampler(() => workerdRss(server.pid));
    const t0 = performance.now();
    const queued = await api(server.url, "POST", "/api/v1/features/bench_lake_value/materialize", adminKey);
    if (queued.status !== 202) throw new Error(`materialize answered ${queued.status}: ${queued.text}`);
    let run;
    for (;;) {
      run = (await api(server.url, "GET", `/api/v1/runs/${queued.json.id}`, adminKey)).json;
      if (run.status === "succeeded" || run.status === "failed") break;
      if (performance.now() - t0 > 60 * 60_000) throw new Error(`the run did not finish within an hour: ${JSON.stringify(run)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const wallMs = performance.now() - t0;
    const peak = mem.stop();
    if (run.status !== "succeeded" || run.rows_read !== rows) throw new Error(`the run ended ${run.status} with ${run.rows_read} rows: ${run.error}`);
    // From the request that queued the run to its commit, by the Worker's clock: polling requests
    // may wait behind the KV refresh jobs the run hands to the queue once it has committed.
    const ms = Date.parse(run.finished_at) - Date.parse(run.created_at);
    const files = (await api(server.url, "GET", `/api/v1/runs/${run.id}/files`, adminKey)).json;
    return { ms, wallMs, rowsPerSec: rows / (ms / 1000), peakBytes: peak, idleBytes: idle, invocations: files.invocations, run };
  } catch (err) {
    err.message += `\n--- end of ${logFile} ---\n${tail(logFile, 30)}`;
    throw err;
  } finally {
    await server.stop();
  }
}

const mib = (b) => `${fmt(b / 2 ** 20, 1)} MiB`;

export async function lake(ctx) {
  const rows = rowsFromEnv();
  mkdirSync(ctx.dir, { recursive: true });
  console.log(`lake: writing a ${fmt(rows)}-row Parquet file (snappy, row groups of ${fmt(ROW_GROUP)}) ...`);
  const bytes = buildParquet(rows);
  const s3 = await startS3rver({ buckets: [BUCKET] });
  try {
    await s3Writer(s3.endpoint).put(BUCKET, KEY, bytes);
    console.log(`lake: ${mib(bytes.length)} in s3rver; bare hyparquet decoding it ...`);
    const bare = await bareDecode(s3.endpoint, rows);
    console.log(`lake: FStore ingesting it under wrangler dev ...`);
    const fstore = await fstoreIngest(ctx.dir, s3.endpoint, rows);

    console.log(`\nlake: ${fmt(rows)} rows, ${mib(bytes.length)} Parquet from s3rver`);
    console.log(`target                      rows/s      time s   peak memory`);
    console.log(`--------------------------  ----------  -------  -----------`);
    console.log(`FStore (wrangler dev)       ${fmt(fstore.rowsPerSec).padStart(10)}  ${fmt(fstore.ms / 1000, 1).padStart(7)}  ${mib(fstore.peakBytes)} workerd RSS (idle ${mib(fstore.idleBytes)})`);
    console.log(`bare hyparquet (Node)       ${fmt(bare.rowsPerSec).padStart(10)}  ${fmt(bare.ms / 1000, 1).padStart(7)}  +${mib(bare.peakBytes)} RSS`);
    const ratio = fstore.rowsPerSec / bare.rowsPerSec;
    console.log(`\nrows/s FStore / bare hyparquet: ${ratio.toFixed(ratio < 0.1 ? 3 : 2)}x  (FStore reaches ${(ratio * 100).toFixed(1)}% of bare decoding)`);
    console.log(`FStore run: ${fstore.invocations} invocations, rows_written ${fmt(fstore.run.rows_written)}, watermark ${fstore.run.watermark}`);
    console.log(`(FStore time: run queued → committed, by the Worker's clock; until the poll saw it: ${fmt(fstore.wallMs / 1000, 1)} s)`);
    return { rows, fstore, bare, ratio };
  } finally {
    await s3.close();
  }
}
