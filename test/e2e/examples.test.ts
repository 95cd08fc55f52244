/**
 * The guide's examples run end to end, as their headers say, against the e2e wrangler dev and the
 * guide's local sources: each Python file (the guide's names) and its TypeScript twin (plain
 * `node`), one after the other on the same server — so the second run of each also shows a script
 * is safe to run twice. Values read back are computed from the seeded data.
 */
import { describe, expect, it } from "vitest";
import { CUSTOMERS, sessionMinutes, transactionValue } from "../../scripts/lib/guide-samples.mjs";
import { pythonCommand } from "../setup/python";
import { api, clientEnv, printed, run } from "./helpers";

async function example(file: string) {
  const command = file.endsWith(".py") ? pythonCommand() : process.execPath;
  const ran = await run(command, [`examples/${file}`], { env: clientEnv() });
  expect(ran.code, printed(ran)).toBe(0);
  return ran.stdout;
}

async function latest(feature: string, entity: string) {
  const { status, body } = await api("GET", `/api/v1/features/${feature}/values/${entity}`);
  expect(status, JSON.stringify(body)).toBe(200);
  return body.value as number;
}

// test/setup/sql-seed.ts: purchases i = 1..300 of customer (i % 25) + 1, amount ((i * 13) % 1000) / 10;
// orders i = 1..600 of customer (i % 20) + 1, created (i % 60) days and 12 h ago, refunded when i % 7 = 0.
const range = (n: number) => Array.from({ length: n }, (_, k) => k + 1);
const purchasesOf = (c: number) => range(300).filter((i) => (i % 25) + 1 === c).reduce((sum, i) => sum + ((i * 13) % 1000) / 10, 0);
const recentOrdersOf = (c: number) => range(600).filter((i) => (i % 20) + 1 === c && i % 60 < 30).length;
const paidOrdersOf = (c: number) => range(600).filter((i) => (i % 20) + 1 === c && i % 7 !== 0).length;

describe.each(["py", "ts"])("the guide's examples in %s", (ext) => {
  it(`send_feature_events.${ext} pushes one value, a batch and a retried value`, async () => {
    const out = await example(`send_feature_events.${ext}`);
    expect(out).toMatch(/bem-sucedido|ok/);
    expect(await latest("customer_purchase_amount", "customer_123")).toBe(99.99);
    expect(await latest("product_stock_level", "product_1")).toBe(42);
    expect(await latest("product_stock_level", "product_2")).toBe(7);
  });

  it(`postgres_features.${ext} pulls SUM(amount) per customer through its connector`, async () => {
    await example(`postgres_features.${ext}`);
    expect(await latest("customer_total_purchases", "1")).toBeCloseTo(purchasesOf(1), 6);
    expect(await latest("customer_total_purchases", "7")).toBeCloseTo(purchasesOf(7), 6);
  });

  it(`custom_postgres_feature.${ext} registers the scheduled CTE feature and runs it now`, async () => {
    await example(`custom_postgres_feature.${ext}`);
    expect(await latest("customer_purchase_frequency", "3")).toBeCloseTo(recentOrdersOf(3) / 30, 6);
    const { body } = await api("GET", "/api/v1/features/customer_purchase_frequency");
    expect(body).toMatchObject({ schedule: "0 0 * * *", feature_group: "customer_metrics", source_type: "sql" });
  });

  it(`mysql_features.${ext} counts paid orders per customer from MariaDB`, async () => {
    await example(`mysql_features.${ext}`);
    expect(await latest("customer_paid_orders", "1")).toBe(paidOrdersOf(1));
  });

  it(`adls_batch_processing.${ext} reads the CSV from Azurite with a SAS token`, async () => {
    await example(`adls_batch_processing.${ext}`);
    expect(await latest("customer_avg_session_minutes", "customer_2")).toBe(sessionMinutes(2));
  });

  it(`s3_batch_processing.${ext} uses the script's own S3 connector although others exist`, async () => {
    // A connector an earlier script left behind: the batch feature must not read through it.
    await api("POST", "/api/v1/connectors", {
      name: `earlier_script_s3_${ext}`,
      type: "s3",
      config: { bucket: "another-bucket", aws_access_key_id: "S3RVER", aws_secret_access_key: "S3RVER", endpoint: clientEnv().AWS_ENDPOINT_URL },
    });
    await example(`s3_batch_processing.${ext}`);
    for (let n = 1; n <= CUSTOMERS; n += 7) expect(await latest("customer_lifetime_value", `customer_${n}`)).toBe(transactionValue(n));
    const feature = (await api("GET", "/api/v1/features/customer_lifetime_value")).body;
    const behavior = (await api("GET", "/api/v1/features/user_behavior_features")).body;
    expect(feature.connector).toMatch(/^s3_[0-9a-f]{8}$/);
    expect(feature.connector).toBe(behavior.connector);
  });
});

describe("connectors left behind by the examples", () => {
  it("one per distinct config, shared by the Python and TypeScript runs", async () => {
    const { body } = await api("GET", "/api/v1/connectors");
    // The Kafka example's connector (test/e2e/kafka-examples.test.ts, which may run before or after) is not counted.
    const derived = body.connectors.map((c: { name: string }) => c.name).filter((n: string) => /^[a-z0-9]+_[0-9a-f]{8}$/.test(n) && !n.startsWith("kafka_"));
    // Both Postgres examples read the same PG* config; the S3 example builds two connectors of one config.
    expect(derived.sort()).toEqual([expect.stringMatching(/^adls_/), expect.stringMatching(/^mysql_/), expect.stringMatching(/^postgres_/), expect.stringMatching(/^s3_/)]);
  });
});
