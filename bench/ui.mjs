/**
 * Dashboard benchmark: page timings of `/ui` under `wrangler dev` (a pre-built bundle, fresh local
 * state) with BENCH_UI_FEATURES features (default 10,000) and BENCH_UI_RUNS runs (default 1,000),
 * seeded with SQL straight into the local D1 before the server starts: every 10th feature is a
 * SQL feature with values for 20 entities, every 10th run is a data-lake run with 20 files. Each
 * page is fetched BENCH_UI_REQUESTS times (default 20) in sequence with a signed-in session; the
 * baseline is `/health` and the JSON API answering the same question, in the same server.
 *
 * Prints p50/p95/max per page. Figures are printed, never asserted.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { bundleWorker, freePort, percentile, repoRoot, runWrangler, startWranglerDev, tail, waitForHttp } from "../scripts/lib/wrangler.mjs";
import { intFromEnv } from "./options.mjs";

const runId = (i) => `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

/** The seed: features, values, latest values, runs, data-lake runs and their files, keys. */
function seedSql(features, runs) {
  const now = Date.now();
  const nowMicros = now * 1000;
  return `
INSERT INTO connectors (name, type, config, secrets, created_at, updated_at)
  VALUES ('bench_pg', 'postgres', '{"host":"127.0.0.1","port":5432,"database":"bench","user":"bench"}', NULL, ${now}, ${now});
INSERT INTO features (name, description, entity_id, feature_group, value_type, ttl_seconds, source_type, source, tags, created_at, updated_at)
  WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ${features - 1})
  SELECT printf('feat_%05d', i), 'Benchmark feature number ' || i, 'customer', printf('group_%03d', i % 200),
         CASE i % 3 WHEN 0 THEN 'int' WHEN 1 THEN 'float' ELSE 'string' END, CASE WHEN i % 4 = 0 THEN 86400 END,
         CASE WHEN i % 10 = 0 THEN 'sql' ELSE 'push' END,
         CASE WHEN i % 10 = 0 THEN '{"connector":"bench_pg","query":"SELECT 1, 2","update_frequency":"1h"}' ELSE '{}' END,
         '{}', ${now}, ${now}
    FROM seq;
INSERT INTO feature_values (feature_id, entity_id, ts, value)
  WITH RECURSIVE e(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM e WHERE j < 19),
                 h(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM h WHERE k < 23)
  SELECT f.id, 'cust_' || e.j, ${nowMicros} - (h.k * 3600 + e.j) * 1000000, CAST(e.j * 10 + h.k AS TEXT)
    FROM features f, e, h WHERE f.source_type = 'sql';
INSERT INTO feature_latest (feature_id, entity_id, ts, value)
  SELECT feature_id, entity_id, max(ts), value FROM feature_values GROUP BY feature_id, entity_id;
INSERT INTO runs (id, feature_id, status, trigger, rows_read, rows_written, rows_unchanged, error, created_at, started_at, finished_at)
  WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ${runs - 1})
  SELECT printf('%08x-0000-4000-8000-%012x', i, i), (SELECT id FROM features WHERE name = printf('feat_%05d', (i * 10) % ${features})),
         CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'succeeded' END, CASE WHEN i % 5 = 0 THEN 'manual' ELSE 'schedule' END,
         480, 400, 80, CASE WHEN i % 7 = 0 THEN 'relation "orders" does not exist' END,
         ${now} - (${runs} - i) * 60000, ${now} - (${runs} - i) * 60000, ${now} - (${runs} - i) * 60000 + 1500
    FROM seq;
INSERT INTO lake_runs (run_id, files_matched, files_skipped, invocations)
  SELECT id, 25, 5, 1 FROM runs WHERE CAST(substr(id, 1, 8) AS INTEGER) % 10 = 0;
INSERT INTO run_files (run_id, seq, key, etag, size, status, rows_read, rows_written, finished_at)
  WITH RECURSIVE f(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM f WHERE k < 19)
  SELECT l.run_id, f.k, printf('events/2026/part-%04d.parquet', f.k), 'etag-' || f.k, 1048576, 'ingested', 24, 20, ${now}
    FROM lake_runs l, f;
INSERT INTO api_keys (id, name, hash, scopes, created_at)
  WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < 49)
  SELECT printf('benchkey%02d', i), 'service ' || i, printf('%064d', i), '["read"]', ${now} - i * 1000 FROM seq;
`;
}

async function timed(url, init) {
  const t0 = performance.now();
  const res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(60_000) });
  const body = await res.text();
  const ms = performance.now() - t0;
  return { ms, status: res.status, bytes: body.length };
}

export async function ui({ dir }) {
  const features = intFromEnv("BENCH_UI_FEATURES", 10_000, 1, 200_000);
  const runs = intFromEnv("BENCH_UI_RUNS", 1_000, 1, 100_000);
  const requests = intFromEnv("BENCH_UI_REQUESTS", 20, 1, 1000);
  mkdirSync(dir, { recursive: true });
  const adminKey = `fsk_bench_${randomBytes(24).toString("base64url")}`;
  const envFile = path.join(dir, "fstore.env");
  writeFileSync(envFile, `FSTORE_EGRESS_ALLOW=loopback\nFSTORE_ADMIN_KEY=${adminKey}\nFSTORE_SECRET_KEY=${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
  const config = path.join(repoRoot, "wrangler.toml");
  const persistTo = path.join(dir, "state");
  const logFile = path.join(dir, "fstore.log");
  const seedFile = path.join(dir, "seed.sql");
  writeFileSync(seedFile, seedSql(features, runs));

  const script = await bundleWorker({ config, outdir: path.join(dir, "bundle"), logFile });
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config], { logFile });
  const seedStart = performance.now();
  await runWrangler(["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--config", config, "--file", seedFile], { logFile, timeoutMs: 600_000 });
  console.log(`seeded ${features.toLocaleString("en-US")} features, ${runs.toLocaleString("en-US")} runs in ${((performance.now() - seedStart) / 1000).toFixed(1)}s`);

  const server = await startWranglerDev({ config, script, port: await freePort(), persistTo, envFile, logFile });
  try {
    await waitForHttp(server, "/health", { logFile });
    const origin = server.url;
    const signIn = await fetch(`${origin}/ui/sign-in`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin },
      body: new URLSearchParams({ key: adminKey }),
    });
    const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith("__Host-fstore_session="))?.split(";")[0];
    if (signIn.status !== 303 || !cookie) throw new Error(`sign-in failed: ${signIn.status}`);
    const page = { headers: { cookie } };
    const api = { headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" } };
    const deepRun = runId(Math.floor(runs / 2));
    const onlineBody = { features: ["feat_00010", "feat_00020", "feat_00030", "feat_00040", "feat_00050"], entity_ids: Array.from({ length: 20 }, (_, j) => `cust_${j}`) };
    const onlineForm = new URLSearchParams({ features: onlineBody.features.join("\n"), entities: onlineBody.entity_ids.join("\n") });

    const targets = [
      ["baseline: GET /health", `${origin}/health`, {}],
      ["baseline: GET /api/v1/features?limit=50", `${origin}/api/v1/features?limit=50`, api],
      ["/ui/features (first page of 50)", `${origin}/ui/features`, page],
      ["/ui/features?limit=200", `${origin}/ui/features?limit=200`, page],
      ["/ui/features?after=feat_05000 (deep page)", `${origin}/ui/features?after=feat_05000`, page],
      ["/ui/features?q=number 99 (search)", `${origin}/ui/features?q=${encodeURIComponent("number 99")}`, page],
      ["/ui/features?group=group_007&type=int", `${origin}/ui/features?group=group_007&type=int`, page],
      ["/ui/features/feat_00010 (chart, hours, sample, runs)", `${origin}/ui/features/feat_00010`, page],
      ["baseline: POST /api/v1/online-features (5 x 20)", `${origin}/api/v1/online-features`, { ...api, method: "POST", body: JSON.stringify(onlineBody) }],
      ["/ui/online (5 features x 20 entities)", `${origin}/ui/online?${onlineForm}`, page],
      ["baseline: GET /api/v1/features/feat_00010/runs", `${origin}/api/v1/features/feat_00010/runs`, api],
      ["/ui/runs (first page of 50)", `${origin}/ui/runs`, page],
      ["/ui/runs?status=failed", `${origin}/ui/runs?status=failed`, page],
      ["/ui/runs/<file run> (20 files)", `${origin}/ui/runs/${runId(0)}`, page],
      ["/ui/runs/<run in the middle>", `${origin}/ui/runs/${deepRun}`, page],
      ["/ui/connectors", `${origin}/ui/connectors`, page],
      ["/ui/keys", `${origin}/ui/keys`, page],
    ];
    console.log(`${requests} sequential requests per page (after one warm-up):`);
    console.log(`${"page".padEnd(58)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"max ms".padStart(8)} ${"KiB".padStart(7)}`);
    for (const [label, url, init] of targets) {
      const warm = await timed(url, init);
      if (warm.status !== 200) throw new Error(`${label}: HTTP ${warm.status}`);
      const times = [];
      for (let i = 0; i < requests; i++) times.push((await timed(url, init)).ms);
      times.sort((a, b) => a - b);
      const f = (n) => n.toFixed(1).padStart(8);
      console.log(`${label.padEnd(58)} ${f(percentile(times, 50))} ${f(percentile(times, 95))} ${f(times.at(-1))} ${(warm.bytes / 1024).toFixed(1).padStart(7)}`);
    }
  } catch (err) {
    err.message += `\n--- end of ${logFile} ---\n${tail(logFile, 30)}`;
    throw err;
  } finally {
    await server.stop();
  }
}
