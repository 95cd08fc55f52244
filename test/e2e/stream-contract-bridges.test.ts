/**
 * The stream contract (test/contract/stream-cases.ts) through the bridges: the same cases the HTTP
 * runner posts (test/stream-contract.test.ts) are produced to Kafka (librdkafka's mock cluster;
 * each case on one partition, so the order given is the order consumed) and published to the
 * Pulsar protocol server (test/e2e/pulsar-ws-server.ts), forwarded by a bridge process, and each
 * feature's history must hold exactly the expected window values. Cases with `redeliver` are
 * delivered a second time with the same offsets (the group's committed offsets set back to 0) or message ids
 * (the subscription's acked messages redelivered): nothing may change but the duplicate counter.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { caseFeature, streamCases, type StreamCase } from "../contract/stream-cases";
import { api } from "./helpers";
import { FakePulsar } from "./pulsar-ws-server";
import { brokers, closeProducer, kafka, startBridge, waitUntil, type BridgeProcess } from "./stream-helpers";

const running: BridgeProcess[] = [];
afterAll(async () => {
  for (const b of running) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill("SIGKILL");
  await closeProducer();
});

async function register(c: StreamCase, prefix: string, connector: string): Promise<{ name: string; topic: string }> {
  const def = caseFeature(c, prefix);
  const created = await api("POST", "/api/v1/features", { ...def, connector });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const topic = (def.topic ?? (def.stream_config as { topic: string }).topic) as string;
  return { name: def.name as string, topic };
}

async function history(feature: string, entity: string) {
  const { body } = await api("GET", `/api/v1/features/${feature}/values?entity_id=${encodeURIComponent(entity)}`);
  return ((body as { values?: { timestamp: string; value: unknown }[] }).values ?? []).map((v) => ({ timestamp: v.timestamp, value: v.value }));
}

async function expectCase(c: StreamCase, feature: string, context: () => string) {
  for (const [entity, expected] of Object.entries(c.expected)) {
    let got: unknown;
    await waitUntil(
      async () => JSON.stringify((got = await history(feature, entity))) === JSON.stringify(expected),
      30_000,
      () => `${c.name} ${entity}: ${JSON.stringify(got)}\nwant ${JSON.stringify(expected)}\n${context()}`,
    );
  }
}

async function expectDuplicates(c: StreamCase, feature: string) {
  let stats: unknown;
  await waitUntil(
    async () => {
      stats = (await api("GET", `/api/v1/features/${feature}`)).body.stream_stats;
      const s = stats as { events?: number; duplicates?: number };
      return s?.events === c.events.length && s?.duplicates === c.events.length;
    },
    30_000,
    () => `${c.name}: stream_stats ${JSON.stringify(stats)}, want ${c.events.length} events and as many duplicates`,
  );
}

describe("the stream contract through the Kafka bridge", () => {
  it("gives every case's window values", async () => {
    const prefix = `kafka_${randomBytes(3).toString("hex")}`;
    const group = `${prefix}_group`;
    const connector = `${prefix}_conn`;
    expect((await api("POST", "/api/v1/connectors", { name: connector, type: "kafka", config: { bootstrap_servers: brokers, group_id: group, auto_offset_reset: "earliest" } })).status).toBe(201);
    const features = await Promise.all(streamCases.map((c) => register(c, prefix, connector)));
    const producer = kafka().producer();
    await producer.connect();
    try {
      for (const [i, c] of streamCases.entries()) {
        await producer.send({
          topic: features[i]!.topic,
          messages: c.events.map((e) => ({ partition: 0, key: e.key, value: JSON.stringify(e.value), timestamp: String(e.timestamp) })),
        });
      }
      const only = { FSTORE_STREAM_TOPICS: features.map((f) => f.topic).join(",") };
      let bridge = startBridge(only);
      running.push(bridge);
      for (const [i, c] of streamCases.entries()) await expectCase(c, features[i]!.name, bridge.output);
      // Redelivery: the bridge stops, the group's offsets go back to 0, the records come again with the same offsets.
      const again = streamCases.map((c, i) => ({ c, f: features[i]! })).filter(({ c }) => c.redeliver);
      expect(again.length, "the cases include a redelivery").toBeGreaterThan(0);
      bridge.child.kill("SIGTERM");
      expect(await bridge.exited, bridge.output()).toBe(0);
      // The mock has no DescribeGroups (admin.setOffsets), so a member of the group commits offset 0 itself.
      const resetter = kafka().consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 1000, maxWaitTimeInMs: 100 });
      await resetter.connect();
      try {
        await resetter.subscribe({ topics: again.map(({ f }) => f.topic), fromBeginning: true });
        const joined = new Promise((resolve) => resetter.on(resetter.events.GROUP_JOIN, resolve));
        await resetter.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
        await joined;
        await resetter.commitOffsets(again.map(({ f }) => ({ topic: f.topic, partition: 0, offset: "0" })));
      } finally {
        await resetter.disconnect();
      }
      bridge = startBridge(only);
      running.push(bridge);
      for (const { c, f } of again) {
        await expectDuplicates(c, f.name);
        await expectCase(c, f.name, bridge.output);
      }
      bridge.child.kill("SIGTERM");
      expect(await bridge.exited, bridge.output()).toBe(0);
    } finally {
      await producer.disconnect();
    }
  }, 180_000);
});

describe("the stream contract through the Pulsar bridge", () => {
  it("gives every case's window values", async () => {
    const token = `t_${randomBytes(8).toString("hex")}`;
    const pulsar = new FakePulsar(token);
    const web = await pulsar.listen();
    const prefix = `pulsar_${randomBytes(3).toString("hex")}`;
    const connector = `${prefix}_conn`;
    const subscription = `${prefix}_sub`;
    const created = await api("POST", "/api/v1/connectors", {
      name: connector,
      type: "pulsar",
      config: { service_url: "pulsar://127.0.0.1:6650", web_service_url: web, subscription_name: subscription, token },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    try {
      const features = await Promise.all(streamCases.map((c) => register(c, prefix, connector)));
      const full = (topic: string) => `persistent://public/default/${topic}`;
      for (const [i, c] of streamCases.entries()) {
        for (const e of c.events) pulsar.publish(full(features[i]!.topic), subscription, { key: e.key ?? undefined, value: e.value, eventTime: e.timestamp });
      }
      const bridge = startBridge({ FSTORE_STREAM_TYPES: "pulsar", FSTORE_STREAM_TOPICS: features.map((f) => f.topic).join(","), [`FSTORE_SECRET_${connector.toUpperCase()}_TOKEN`]: token });
      running.push(bridge);
      for (const [i, c] of streamCases.entries()) await expectCase(c, features[i]!.name, bridge.output);
      // Redelivery: the subscription's acked messages come again with the same message ids.
      for (const [i, c] of streamCases.entries()) {
        if (!c.redeliver) continue;
        await waitUntil(async () => pulsar.unackedCount() === 0, 10_000, () => "messages left unacked");
        expect(pulsar.redeliverAcked(full(features[i]!.topic), subscription)).toBe(c.events.length);
        await expectDuplicates(c, features[i]!.name);
        await expectCase(c, features[i]!.name, bridge.output);
      }
      bridge.child.kill("SIGTERM");
      expect(await bridge.exited, bridge.output()).toBe(0);
    } finally {
      await pulsar.close();
    }
  }, 180_000);
});
