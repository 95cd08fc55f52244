/** The TypeScript SDK (`fstore`) against the real Worker: the guide's calls, in TypeScript. */
import { exports } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { FeatureStore, FStoreError } from "../src/sdk";
import { connectorName, PostgresConnector, PostgreSQLConnector } from "../src/sdk/connectors";
import type { FeatureCreate } from "../src/schemas/feature";
import type { FeatureDefinition, ValueType } from "../src/sdk";
import { ADMIN_KEY } from "./helpers";

// Compile-time checks (npm run typecheck): the SDK's FeatureDefinition has exactly the fields and
// value types the server's schema accepts, so the two cannot drift apart.
type AssertNever<T extends never> = T;
type ServerDefinition = z.input<typeof FeatureCreate>;
export type _NoFieldMissingInSdk = AssertNever<Exclude<keyof ServerDefinition, keyof FeatureDefinition>>;
export type _NoFieldUnknownToServer = AssertNever<Exclude<keyof FeatureDefinition, keyof ServerDefinition>>;
export type _SameValueTypes = AssertNever<Exclude<ServerDefinition["value_type"], ValueType | undefined>>;

const workerFetch: typeof fetch = (input, init) => exports.default.fetch(new Request(input as string, init));
const store = new FeatureStore({ url: "http://fstore.test/", apiKey: ADMIN_KEY, fetch: workerFetch });

describe("FeatureStore SDK", () => {
  it("registers a feature, sends values one by one and in a batch, and reads them back", async () => {
    const feature = await store.createFeature({ name: "sdk_purchase_amount", entity_id: "customer", feature_group: "sdk_customers" });
    expect(feature).toMatchObject({ id: "sdk_purchase_amount", feature_group: "sdk_customers" });

    expect(await store.sendFeatureValue("sdk_purchase_amount", "customer_123", 99.99, "2024-02-20T22:39:38.123456")).toBe(true);
    expect(await store.getLatestValue("sdk_purchase_amount", "customer_123")).toMatchObject({ value: 99.99, timestamp: "2024-02-20T22:39:38.123456Z" });

    await store.sendBatchValues([
      { feature_id: "sdk_purchase_amount", entity_id: "customer_1", value: 10, timestamp: "2024-02-21T00:00:00Z" },
      { feature_id: "sdk_purchase_amount", entity_id: "customer_2", value: 20, timestamp: "2024-02-21T00:00:00Z" },
    ]);
    const online = await store.getOnlineFeatures({ features: ["sdk_purchase_amount"], entity_ids: ["customer_1", "customer_2"] });
    expect(online.results.map((r) => r.values.sdk_purchase_amount)).toEqual([10, 20]);

    const training = await store.getHistoricalFeatures({ features: ["sdk_purchase_amount"], entity_rows: [{ entity_id: "customer_123", timestamp: "2024-03-01T00:00:00Z" }] });
    expect(training.rows[0]).toMatchObject({ entity_id: "customer_123", sdk_purchase_amount: 99.99 });
  });

  it("turns error answers into FStoreError with status, code and details", async () => {
    const err = await store.sendFeatureValue("sdk_unknown_feature", "e", 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FStoreError);
    expect(err).toMatchObject({ status: 404, code: "FEATURE_NOT_FOUND" });
    const unauthorized = new FeatureStore({ url: "http://fstore.test", apiKey: "fsk_wrong_key_value", fetch: workerFetch });
    await expect(unauthorized.getFeature("sdk_purchase_amount")).rejects.toMatchObject({ status: 401, code: "UNAUTHORIZED" });
  });

  it("creates a feature twice without a 409, applies changed fields, and explains a real clash", async () => {
    const first = await store.createFeature({ name: "sdk_repeat", entity_id: "customer", description: "v1" });
    const again = await store.createFeature({ name: "sdk_repeat", entity_id: "customer", description: "v1" });
    expect(again.updated_at).toBe(first.updated_at);
    expect(await store.createFeature({ name: "sdk_repeat", entity_id: "customer", description: "v2" })).toMatchObject({ description: "v2" });
    // Another entity in the same group is a clash (in another group, the same name is another feature: below).
    const clash = await store.createFeature({ name: "sdk_repeat", entity_id: "product", feature_group: "customer" }).catch((e: unknown) => e);
    expect(clash).toMatchObject({ status: 409, code: "CONFLICT" });
    expect((clash as Error).message).toMatch(/entity_id 'customer'.*deleteFeature/);
    const kind = await store.createFeature({ name: "sdk_repeat", entity_id: "customer", query: "SELECT 1, 2" }).catch((e: unknown) => e);
    expect((kind as Error).message).toContain("already exists as a push feature; this definition makes a sql feature");
  });

  it("registers a name another group has as a second feature and addresses both as group:name", async () => {
    await store.createFeature({ name: "sdk_shared", entity_id: "driver_id", feature_group: "sdk_drivers" });
    const second = await store.createFeature({ name: "sdk_shared", entity_id: "customer_id", feature_group: "sdk_shoppers" });
    expect(second).toMatchObject({ ref: "sdk_shoppers:sdk_shared", feature_group: "sdk_shoppers" });
    // Creating it again is still not a 409, though the bare name is now ambiguous.
    expect(await store.createFeature({ name: "sdk_shared", entity_id: "customer_id", feature_group: "sdk_shoppers", owner: "growth" })).toMatchObject({ owner: "growth" });
    expect(await store.getFeature("sdk_drivers:sdk_shared")).toMatchObject({ entity_id: "driver_id", owner: null });
    const ambiguous = await store.getFeature("sdk_shared").catch((e: unknown) => e);
    expect(ambiguous).toMatchObject({ status: 400, code: "AMBIGUOUS_FEATURE" });
    expect(await store.sendFeatureValue("sdk_shoppers:sdk_shared", "c1", 0.5, "2024-01-01T00:00:00Z")).toBe(true);
    expect(await store.getLatestValue("sdk_shoppers:sdk_shared", "c1")).toMatchObject({ feature_id: "sdk_shoppers:sdk_shared", value: 0.5 });
    await store.deleteFeature("sdk_drivers:sdk_shared");
    expect(await store.getFeature("sdk_shared")).toMatchObject({ ref: "sdk_shared", feature_group: "sdk_shoppers" });
  });

  it("names a connector from its non-secret config, the same for both guide spellings", () => {
    const config = { host: "localhost", port: 5432, database: "mydb", user: "user", password: "password" };
    const a = new PostgreSQLConnector(config);
    const b = new PostgresConnector({ ...config, password: "another" });
    // The Python client derives the same name (clients/python/tests/test_connectors.py).
    expect(a.name).toBe("postgres_ec2076c0");
    expect(connectorName("postgres", config)).toBe(a.name);
    expect(b.name).toBe(a.name);
    expect(new PostgreSQLConnector({ ...config, database: "other" }).name).not.toBe(a.name);
    expect(new PostgreSQLConnector(config, { name: "orders_db" }).name).toBe("orders_db");
  });
});
