/**
 * The SDK's startStreamingFeature (the stream bridge in-process) against the mock Kafka cluster and
 * the e2e wrangler dev: the guide's createFeature({stream_config}) + startStreamingFeature(name,
 * connector) binds the feature to its connector, consumes, and stop() ends it cleanly; the calls
 * that cannot work say why.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { FeatureStore, FStoreError } from "../../src/sdk/index.ts";
import { KafkaConnector } from "../../src/sdk/connectors.ts";
import { adminKey, api, url } from "./helpers";
import { brokers, closeProducer, committedCount, produce, waitForValues, waitUntil } from "./stream-helpers";

const store = new FeatureStore({ url, apiKey: adminKey });
afterAll(() => closeProducer());

describe("SDK startStreamingFeature", () => {
  it("binds the feature to the connector, streams its topic in-process and stops cleanly", async () => {
    const id = randomBytes(4).toString("hex");
    const topic = `sdk_events_${id}`;
    const group = `sdk_group_${id}`;
    const feature = await store.createFeature({ name: `sdk_last_action_${id}`, value_type: "string", stream_config: { topic, value_field: "action" } });
    expect(feature.source_type).toBe("stream");
    const connector = new KafkaConnector({ bootstrap_servers: brokers, group_id: group, auto_offset_reset: "earliest" }, { name: `sdk_kafka_${id}`, store });
    const lines: string[] = [];
    const stream = await store.startStreamingFeature(feature.name, connector, { log: (l) => lines.push(l), statsMs: 500, kafka: { sessionTimeout: 6000, heartbeatInterval: 1000 } });
    try {
      expect((await store.getFeature(feature.name)).connector).toBe(`sdk_kafka_${id}`);
      expect(stream).toMatchObject({ topic, connector: `sdk_kafka_${id}` });
      await produce(topic, ["view", "cart", "view"].flatMap((action, i) => [{ key: "c1", value: { action: `${action}_${i}` } }, { key: "c2", value: { action: `${action}_${i}_b` } }]));
      await new Promise((r) => setTimeout(r, 5)); // the last actions get a later record timestamp
      await produce(topic, [{ key: "c1", value: { action: "checkout" } }, { key: "c2", value: { action: "abandon" } }]);
      await waitForValues(feature.name, { c1: "checkout", c2: "abandon" }, 60_000, () => lines.join("\n"));
      await waitUntil(async () => (await committedCount(group, topic)) === 8, 10_000, () => lines.join("\n"));
    } finally {
      await stream.stop();
    }
    await stream.done;
    expect(stream.totals()[topic]).toEqual({ accepted: 8, dropped: 0 });
    expect(lines.join("\n")).toMatch(/stream \(stopped\)/);

    // The same connector again: nothing to bind, it streams again.
    const again = await store.startStreamingFeature(feature.name, connector, { log: () => {}, statsMs: 0, kafka: { sessionTimeout: 6000 } });
    await again.stop();
  }, 120_000);

  it("refuses a feature that reads no topic, and a second connector for a bound feature", async () => {
    const id = randomBytes(4).toString("hex");
    await store.createFeature({ name: `sdk_push_${id}`, entity_id: "customer" });
    const kafka = new KafkaConnector({ bootstrap_servers: brokers, group_id: `g_${id}` }, { name: `sdk_k1_${id}`, store });
    await expect(store.startStreamingFeature(`sdk_push_${id}`, kafka)).rejects.toMatchObject({ code: "NOT_A_STREAM_FEATURE" });
    const bound = await kafka.registerStreamingFeature({ name: `sdk_bound_${id}`, topic: `t_${id}`, value_field: "x" });
    expect(bound.connector).toBe(`sdk_k1_${id}`);
    const other = new KafkaConnector({ bootstrap_servers: brokers, group_id: `other_${id}` }, { name: `sdk_k2_${id}`, store });
    const err = await store.startStreamingFeature(`sdk_bound_${id}`, other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FStoreError);
    expect((err as FStoreError).code).toBe("CONFLICT");
    // Stream connectors are stored without a connection test: the bridge, not FStore, reaches the broker.
    expect((await api("GET", `/api/v1/connectors/sdk_k1_${id}`)).status).toBe(200);
  }, 60_000);
});
