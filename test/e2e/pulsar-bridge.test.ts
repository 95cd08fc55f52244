/**
 * The Pulsar bridge against a WebSocket server that speaks Pulsar's documented consumer protocol
 * (test/e2e/pulsar-ws-server.ts — no Pulsar broker can be had here) and the e2e wrangler dev:
 * messages are acked only after FStore's 202 (while FStore is refusing, nothing is acked), the
 * token travels as `Authorization: Bearer` from FSTORE_SECRET_<CONNECTOR>_TOKEN, and messages left
 * unacked when the connection drops are redelivered on reconnect and counted once.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { api } from "./helpers";
import { FakePulsar } from "./pulsar-ws-server";
import { startBridge, startProxy, streamOf, waitForValues, waitUntil, type BridgeProcess } from "./stream-helpers";

const TOKEN = `pulsar-token-${randomBytes(8).toString("hex")}`;
const running: BridgeProcess[] = [];
afterAll(() => {
  for (const b of running) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill("SIGKILL");
});

async function setup(label: string, webServiceUrl: string) {
  const id = `${label}_${randomBytes(4).toString("hex")}`;
  const topic = `persistent://public/default/t_${id}`;
  const subscription = `sub_${id}`;
  const connector = `pulsar_${id}`;
  const created = await api("POST", "/api/v1/connectors", {
    name: connector,
    type: "pulsar",
    config: { service_url: "pulsar://127.0.0.1:6650", web_service_url: webServiceUrl, subscription_name: subscription, token: TOKEN },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  for (const aggregation of ["sum", "count"]) {
    const f = await api("POST", "/api/v1/features", { name: `${aggregation}_${id}`, topic, value_field: "amount", aggregation, window_size: "1h", connector });
    expect(f.status, JSON.stringify(f.body)).toBe(201);
  }
  const secretEnv = { [`FSTORE_SECRET_${connector.toUpperCase()}_TOKEN`]: TOKEN, FSTORE_STREAM_TYPES: "pulsar", FSTORE_STREAM_TOPICS: topic };
  return { id, topic, subscription, connector, sum: `sum_${id}`, count: `count_${id}`, secretEnv };
}

function publish(pulsar: FakePulsar, s: { topic: string; subscription: string }, from: number, n: number, expected: { sum: Record<string, number>; count: Record<string, number> }) {
  for (let i = from; i < from + n; i++) {
    const key = `p${i % 4}`;
    const amount = (i % 5) + 1;
    expected.sum[key] = (expected.sum[key] ?? 0) + amount;
    expected.count[key] = (expected.count[key] ?? 0) + 1;
    pulsar.publish(s.topic, s.subscription, { key, value: { amount, seq: i }, eventTime: Date.now() });
  }
}

describe("the Pulsar bridge (Pulsar's WebSocket consumer protocol)", () => {
  it("acks a message only after FStore's 202, and nothing while FStore refuses", async () => {
    const pulsar = new FakePulsar(TOKEN);
    const web = await pulsar.listen();
    const s = await setup("ack", web);
    let refusals = 3;
    const accepted = new Set<string>();
    const proxy = await startProxy({ refuse: () => refusals-- > 0, afterAnswer: (f) => f.status === 202 && f.ids.forEach((i) => accepted.add(i)) });
    const early: string[] = [];
    pulsar.onAck = (topic, messageId) => {
      const id = `pulsar/${topic}/${messageId}`;
      // The proxy records a 202 before the bridge can read it, so an ack of an id not yet accepted is an early ack.
      if (!proxy.forwarded.some((f) => f.status === 202 && f.ids.includes(id))) early.push(id);
    };
    const expected = { sum: {}, count: {} };
    try {
      publish(pulsar, s, 0, 700, expected);
      const b = startBridge(s.secretEnv, { target: proxy.url });
      running.push(b);
      await waitForValues(s.sum, expected.sum, 60_000, b.output);
      await waitForValues(s.count, expected.count, 10_000);
      await waitUntil(async () => pulsar.unackedCount() === 0, 10_000, () => `${pulsar.unackedCount()} messages never acked\n${b.output()}`);
      expect(early, "acks sent before FStore's 202").toEqual([]);
      expect(proxy.forwarded.filter((f) => f.status === 503).length, "FStore was refused to the bridge three times").toBe(3);
      expect(b.output()).toMatch(/retry/);
      expect(pulsar.acks.length).toBe(700);
      expect(pulsar.unauthorized).toBe(0);
      expect((await streamOf(s.topic))?.features.sort()).toEqual([s.count, s.sum]);
      b.child.kill("SIGTERM");
      expect(await b.exited, b.output()).toBe(0);
    } finally {
      await proxy.close();
      await pulsar.close();
    }
  }, 120_000);

  it("gets the unacked messages again after a dropped connection and counts them once", async () => {
    const pulsar = new FakePulsar(TOKEN);
    const web = await pulsar.listen();
    const s = await setup("redeliver", web);
    let drops = 2;
    // Right after FStore accepted a batch, before the bridge could ack it, the connection drops.
    const proxy = await startProxy({
      afterAnswer: (f) => {
        if (f.status === 202 && drops > 0) {
          drops--;
          pulsar.dropConsumers();
        }
      },
    });
    const expected = { sum: {}, count: {} };
    try {
      const b = startBridge(s.secretEnv, { target: proxy.url });
      running.push(b);
      await b.waitForOutput(/consuming/);
      publish(pulsar, s, 0, 600, expected);
      await waitForValues(s.sum, expected.sum, 60_000, b.output);
      await waitForValues(s.count, expected.count, 10_000);
      await waitUntil(async () => pulsar.unackedCount() === 0, 20_000, () => `${pulsar.unackedCount()} messages never acked\n${b.output()}`);
      expect(pulsar.redelivered, "messages were redelivered after the drops").toBeGreaterThan(0);
      expect(pulsar.connections, "the bridge reconnected").toBeGreaterThanOrEqual(2);
      expect(b.output()).toMatch(/reconnecting/);
      const stats = (await streamOf(s.topic))?.stats ?? {};
      expect(Number(stats.duplicates), JSON.stringify(stats)).toBeGreaterThan(0);
      b.child.kill("SIGINT");
      expect(await b.exited, b.output()).toBe(0);
    } finally {
      await proxy.close();
      await pulsar.close();
    }
  }, 120_000);

  it("is refused without the token, and says so", async () => {
    const pulsar = new FakePulsar(TOKEN);
    const web = await pulsar.listen();
    const s = await setup("token", web);
    try {
      const b = startBridge({ FSTORE_STREAM_TYPES: "pulsar", FSTORE_STREAM_TOPICS: s.topic });
      running.push(b);
      await b.waitForOutput(/401/);
      expect(pulsar.unauthorized).toBeGreaterThan(0);
      expect(b.output()).not.toContain(TOKEN);
      b.child.kill("SIGTERM");
      expect(await b.exited, b.output()).toBe(0);
      await api("DELETE", `/api/v1/features/${s.sum}`);
      await api("DELETE", `/api/v1/features/${s.count}`);
    } finally {
      await pulsar.close();
    }
  }, 60_000);
});
