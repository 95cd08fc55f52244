/**
 * The dashboard's pages in a real browser (Chromium) against `wrangler dev`, as a user goes
 * through them: browse and search features, open a feature's chart and switch entities, look up
 * online vectors, test a connector, run a SQL feature's materialization (the local PostgreSQL
 * through the pgproxy of test/setup/sql-services.ts) and watch it finish on the run's page.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openBrowser, signIn, WAIT_MS, type Browser } from "./browser";

const url = inject("e2eUrl");
const adminKey = inject("e2eAdminKey");

async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

let browser: Browser;

beforeAll(async () => {
  await api("POST", "/api/v1/features", { name: "e2e_ui_spend", entity_id: "customer", feature_group: "e2e_ui_customers", description: "Spend per order", ttl: "30d" });
  await api("POST", "/api/v1/features", { name: "e2e_ui_tier", entity_id: "customer", feature_group: "e2e_ui_customers", value_type: "string" });
  await api("POST", "/api/v1/features", { name: "e2e_ui_stock", entity_id: "product", feature_group: "e2e_ui_products", value_type: "int" });
  const start = Date.now() - 30 * 3_600_000;
  const values = [];
  for (let h = 0; h < 30; h++) {
    const timestamp = new Date(start + h * 3_600_000).toISOString();
    values.push({ feature_id: "e2e_ui_spend", entity_id: "cust_a", value: 10 + h, timestamp });
    if (h % 3 === 0) values.push({ feature_id: "e2e_ui_spend", entity_id: "cust_b", value: 100 - h, timestamp });
  }
  values.push({ feature_id: "e2e_ui_tier", entity_id: "cust_a", value: "gold", timestamp: new Date().toISOString() });
  await api("POST", "/api/v1/features/batch", values);
  browser = await openBrowser(url);
  await signIn(browser.page, adminKey);
});

afterAll(async () => {
  await browser?.close();
});

describe("features in a browser", () => {
  it("searches and filters the features table", async () => {
    const { page } = browser;
    await page.goto("/ui/features");
    await page.getByLabel("Search").fill("e2e_ui_");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText("3 matching").waitFor();
    const names = () => page.locator("tbody tr td:first-child a").allTextContents();
    expect(await names()).toEqual(["e2e_ui_spend", "e2e_ui_stock", "e2e_ui_tier"]);

    await page.getByLabel("Value type").selectOption("string");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText("1 matching").waitFor();
    expect(await names()).toEqual(["e2e_ui_tier"]);

    await page.goto("/ui/features?q=e2e_ui_");
    await page.getByRole("link", { name: "e2e_ui_products" }).click();
    await page.waitForURL("**/ui/features?group=e2e_ui_products");
    expect(await names()).toEqual(["e2e_ui_stock"]);
  });

  it("opens a feature: its chart of an entity's values, values per hour, latest values", async () => {
    const { page } = browser;
    await page.goto("/ui/features?q=e2e_ui_spend");
    await page.getByRole("link", { name: "e2e_ui_spend" }).first().click();
    await page.getByRole("heading", { name: "e2e_ui_spend" }).waitFor();
    // The entity with the newest value is charted first: cust_a (30 hourly values).
    const chart = page.locator('svg.chart[aria-label^="e2e_ui_spend for cust_a"]');
    await chart.waitFor();
    expect(await chart.locator("circle").count()).toBe(30);
    expect(await page.locator("svg.chart rect.bar").count()).toBe(30);
    const latest = page.locator("tr", { has: page.getByRole("link", { name: "cust_b" }) });
    await expect(latest.locator(".badge").textContent()).resolves.toBe("PRESENT");

    await page.getByLabel("Entity").fill("cust_b");
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator('svg.chart[aria-label^="e2e_ui_spend for cust_b"]').waitFor();
    expect(await page.locator('svg.chart[aria-label^="e2e_ui_spend for cust_b"] circle').count()).toBe(10);
  });

  it("looks up online vectors and shows the curl and SDK calls", async () => {
    const { page } = browser;
    await page.goto("/ui/online");
    await page.getByLabel("Features").fill("e2e_ui_spend\ne2e_ui_tier");
    await page.getByLabel("Entity ids").fill("cust_a\nnobody");
    await page.getByRole("button", { name: "Look up" }).click();
    await page.getByRole("heading", { name: "Vectors" }).waitFor();
    const body = JSON.parse((await page.locator("#online-json").textContent()) as string);
    const api_ = await api("POST", "/api/v1/online-features", { features: ["e2e_ui_spend", "e2e_ui_tier"], entity_ids: ["cust_a", "nobody"] });
    expect(body).toEqual(api_);
    expect(body.results[0].statuses).toEqual({ e2e_ui_spend: "PRESENT", e2e_ui_tier: "PRESENT" });
    expect(body.results[1].statuses).toEqual({ e2e_ui_spend: "NOT_FOUND", e2e_ui_tier: "NOT_FOUND" });
    expect(await page.locator("#online-curl").textContent()).toContain(`${url}/api/v1/online-features`);
    expect(await page.locator("#online-sdk").textContent()).toContain("store.getOnlineFeatures(");
  });
});

describe("connectors and runs in a browser", () => {
  beforeAll(async () => {
    const config = { host: "127.0.0.1", port: 5432, database: inject("sqlDatabase"), user: "postgres", password: "", ws_proxy: inject("pgProxy") };
    await api("POST", "/api/v1/connectors", { name: "e2e_ui_pg", type: "postgres", config });
    await api("POST", "/api/v1/connectors", { name: "e2e_ui_pg_down", type: "postgres", config: { ...config, port: 1 } });
    await api("POST", "/api/v1/features", {
      name: "e2e_ui_order_value",
      entity_id: "customer",
      feature_group: "e2e_ui_orders",
      connector: "e2e_ui_pg",
      query: "SELECT customer_id AS entity_id, order_value AS value, created_at AS timestamp FROM orders WHERE id <= 40",
    });
  });

  it("tests a connector and shows the classified result", async () => {
    const { page } = browser;
    await page.goto("/ui/connectors");
    const card = page.locator("#connector-e2e_ui_pg");
    await expect(card.getByRole("link", { name: "e2e_ui_order_value" }).count()).resolves.toBe(1);
    await card.getByRole("button", { name: "Test connection" }).click();
    await page.getByText("Connection test of e2e_ui_pg: OK").waitFor();

    await page.locator("#connector-e2e_ui_pg_down").getByRole("button", { name: "Test connection" }).click();
    await page.getByText("Connection test of e2e_ui_pg_down: failed (refused)").waitFor();
  });

  it("runs a SQL feature's materialization and watches it finish", async () => {
    const { page } = browser;
    await page.goto("/ui/features/e2e_ui_order_value");
    await Promise.all([page.waitForURL(/\/ui\/runs\/[0-9a-f-]{36}$/), page.getByRole("button", { name: "Run now" }).click()]);
    const runId = new URL(page.url()).pathname.split("/").pop() as string;
    // The page follows the run live (app.js) and shows the final numbers once it is done.
    await page.locator('.card [data-field="status"].badge.succeeded').waitFor({ timeout: WAIT_MS });
    await expect(page.locator('dd[data-field="rowsRead"]').textContent()).resolves.toBe("40");
    expect((await api("GET", `/api/v1/runs/${runId}`)).status).toBe("succeeded");

    await page.goto("/ui/runs?feature=e2e_ui_order_value");
    const row = page.locator("tr", { has: page.locator(`a[href="/ui/runs/${runId}"]`) });
    await expect(row.locator('[data-field="status"]').textContent()).resolves.toBe("succeeded");
    await expect(row.locator('[data-field="rowsRead"]').textContent()).resolves.toBe("40");

    // The values it wrote are on the feature's page.
    await page.goto("/ui/features/e2e_ui_order_value");
    await page.locator('svg.chart[aria-label^="e2e_ui_order_value for"]').waitFor();
  });
});
