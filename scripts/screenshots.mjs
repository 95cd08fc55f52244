#!/usr/bin/env node
/**
 * `npm run screenshots`: re-creates the dashboard screenshots in docs/screenshots/. Starts a fresh
 * `wrangler dev` (temporary state; PORT picks its port, default a free one) and the pgproxy in
 * front of the local PostgreSQL (`bash scripts/services.sh`), fills FStore with demo data through
 * the API — features in several groups, values over three days, connectors, SQL runs (one
 * failing), keys — then signs in with Debian's Chromium (CHROMIUM_PATH overrides) and captures
 * the main pages. Everything it started is stopped again, also on failure.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { startPgProxy } from "./pgproxy.mjs";
import { freePort, repoRoot, runWrangler, startWranglerDev, stopAll, tail, waitForHttp } from "./lib/wrangler.mjs";

const OUT = path.join(repoRoot, "docs", "screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HOUR = 3_600_000;

/** mulberry32: the same demo values on every run. */
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

function client(url, key) {
  return async (method, route, body) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

async function seed(api, pgProxyAddress) {
  const random = prng(12);
  const pg = { host: "127.0.0.1", port: 5432, database: "postgres", user: "postgres", password: "", ws_proxy: pgProxyAddress };
  await api("POST", "/api/v1/connectors", { name: "warehouse_pg", type: "postgres", config: pg });
  await api("POST", "/api/v1/connectors", { name: "orders_mysql", type: "mysql", config: { host: "127.0.0.1", port: 3306, database: "test", user: "root", password: "" } });
  await api("POST", "/api/v1/connectors", {
    name: "lake_s3",
    type: "s3",
    config: { bucket: "my-feature-store", aws_access_key_id: "AKIAEXAMPLE", aws_secret_access_key: "example-secret", region: "us-east-1" },
  });

  const push = [
    { name: "customer_purchase_amount", entity_id: "customer", feature_group: "customer_metrics", description: "Amount of the customer's last purchase", ttl: "7d" },
    { name: "customer_order_count_7d", entity_id: "customer", feature_group: "customer_metrics", value_type: "int", description: "Orders in the last 7 days" },
    { name: "customer_segment", entity_id: "customer", feature_group: "customer_metrics", value_type: "string", owner: "growth@example.com" },
    { name: "product_stock_level", entity_id: "product", feature_group: "product_metrics", value_type: "int", ttl: "1d" },
    { name: "product_price", entity_id: "product", feature_group: "product_metrics" },
    { name: "product_return_rate", entity_id: "product", feature_group: "product_metrics", ttl: "30d" },
    { name: "user_embedding", entity_id: "user", feature_group: "user_profile", value_type: "float_list", description: "64-d profile embedding" },
    { name: "user_is_subscriber", entity_id: "user", feature_group: "user_profile", value_type: "bool" },
  ];
  for (const f of push) await api("POST", "/api/v1/features", f);
  await api("POST", "/api/v1/features", {
    name: "customer_lifetime_value",
    entity_id: "customer",
    feature_group: "customer_metrics",
    connector: "warehouse_pg",
    description: "Sum of all order values",
    query: "SELECT 'customer_' || g AS entity_id, round((80 + (g * 137) % 900)::numeric, 2) AS value, now() AS timestamp FROM generate_series(1, 12) g",
    update_frequency: "1h",
  });
  await api("POST", "/api/v1/features", {
    name: "customer_churn_risk",
    entity_id: "customer",
    feature_group: "customer_risk",
    connector: "warehouse_pg",
    query: "SELECT customer_id, risk FROM churn_scores",
    schedule: "0 0 * * *",
  });
  await api("POST", "/api/v1/features", { name: "user_behavior_features", entity_id: "user", feature_group: "user_behavior", connector: "lake_s3", path: "features/user_behavior/*.parquet", update_frequency: "1d" });
  await api("POST", "/api/v1/features", { name: "user_current_session", entity_id: "user", feature_group: "user_sessions", topic: "user_events", value_field: "session_data", window_size: "5m", value_type: "json" });

  const now = Date.now();
  const values = [];
  for (let c = 1; c <= 12; c++) {
    let amount = 40 + random() * 200;
    for (let h = 71; h >= 0; h--) {
      if (random() < 0.35) continue;
      amount = Math.max(5, amount + (random() - 0.48) * 40);
      values.push({ feature_id: "customer_purchase_amount", entity_id: `customer_${c}`, value: Math.round(amount * 100) / 100, timestamp: new Date(now - h * HOUR - Math.floor(random() * HOUR)).toISOString() });
    }
    values.push({ feature_id: "customer_order_count_7d", entity_id: `customer_${c}`, value: Math.floor(random() * 12), timestamp: new Date(now - 2 * HOUR).toISOString() });
    values.push({ feature_id: "customer_segment", entity_id: `customer_${c}`, value: ["bronze", "silver", "gold"][c % 3], timestamp: new Date(now - 30 * HOUR).toISOString() });
  }
  for (let p = 1; p <= 8; p++) {
    values.push({ feature_id: "product_stock_level", entity_id: `product_${p}`, value: Math.floor(random() * 100), timestamp: new Date(now - (p === 3 ? 40 : 3) * HOUR).toISOString() });
    values.push({ feature_id: "product_price", entity_id: `product_${p}`, value: Math.round(random() * 5000) / 100, timestamp: new Date(now - HOUR).toISOString() });
  }
  for (let u = 1; u <= 5; u++) {
    values.push({ feature_id: "user_embedding", entity_id: `user_${u}`, value: Array.from({ length: 64 }, () => Math.round((random() - 0.5) * 1000) / 1000), timestamp: new Date(now - HOUR).toISOString() });
    values.push({ feature_id: "user_is_subscriber", entity_id: `user_${u}`, value: u % 2 === 0, timestamp: new Date(now - HOUR).toISOString() });
  }
  await api("POST", "/api/v1/features/batch", values);

  await api("POST", "/api/v1/features/customer_lifetime_value/materialize?wait=true");
  await api("POST", "/api/v1/features/customer_lifetime_value/materialize?wait=true");
  await api("POST", "/api/v1/features/customer_churn_risk/materialize?wait=true");
  await api("POST", "/api/v1/keys", { name: "ingest-service", scopes: ["write"] });
  await api("POST", "/api/v1/keys", { name: "analyst-notebook", scopes: ["read"] });
  const old = await api("POST", "/api/v1/keys", { name: "old-etl-job", scopes: ["write"] });
  await api("DELETE", `/api/v1/keys/${old.id}`);
}

async function capture(url, adminKey) {
  mkdirSync(OUT, { recursive: true });
  const profile = mkdtempSync(path.join(tmpdir(), "fstore-screenshots-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    baseURL: url,
    viewport: { width: 1280, height: 800 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const shot = async (name, fullPage = false) => {
      await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage });
      console.log(`docs/screenshots/${name}.png`);
    };
    await page.goto("/ui/features");
    await shot("sign-in");
    await page.getByLabel("API key").fill(adminKey);
    await Promise.all([page.waitForURL("**/ui/features"), page.getByRole("button", { name: "Sign in" }).click()]);
    await shot("features", true);
    await page.goto("/ui/features/customer_purchase_amount?entity=customer_3");
    await shot("feature", true);
    await page.goto("/ui/online");
    await page.getByLabel("Features").fill("customer_purchase_amount\ncustomer_segment\ncustomer_lifetime_value");
    await page.getByLabel("Entity ids").fill("customer_1\ncustomer_2\ncustomer_99");
    await page.getByRole("button", { name: "Look up" }).click();
    await page.getByRole("heading", { name: "Vectors" }).waitFor();
    await shot("online", true);
    await page.goto("/ui/runs");
    await shot("runs");
    await page.goto("/ui/connectors");
    await page.locator("#connector-warehouse_pg").getByRole("button", { name: "Test connection" }).click();
    await page.getByText("Connection test of warehouse_pg").waitFor();
    await shot("connectors", true);
    await page.goto("/ui/keys");
    await shot("keys");
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const dir = mkdtempSync(path.join(tmpdir(), "fstore-screenshots-"));
const logFile = path.join(dir, "wrangler-dev.log");
let proxy;
try {
  proxy = await startPgProxy({ port: 0 });
  const adminKey = `fsk_demo_${randomBytes(24).toString("base64url")}`;
  const envFile = path.join(dir, ".dev.vars");
  writeFileSync(envFile, `FSTORE_EGRESS_ALLOW=loopback\nFSTORE_ADMIN_KEY=${adminKey}\nFSTORE_SECRET_KEY=${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
  const config = path.join(repoRoot, "wrangler.toml");
  const persistTo = path.join(dir, "state");
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config], { logFile });
  const port = process.env.PORT ? Number(process.env.PORT) : await freePort();
  const server = await startWranglerDev({ config, port, persistTo, envFile, logFile });
  await waitForHttp(server, "/health", { logFile });
  await seed(client(server.url, adminKey), `127.0.0.1:${proxy.port}/v2`);
  await capture(server.url, adminKey);
} catch (err) {
  console.error(`screenshots failed: ${err.stack ?? err}\n--- end of ${logFile} ---\n${tail(logFile, 30)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
}
