/**
 * The Kafka bridge against librdkafka's mock cluster (kcat) and the e2e wrangler dev, for real:
 * consume → forward → 202 → commit; SIGKILL of the bridge right after a 202 (before it could
 * commit), restart, and every aggregate exactly right (the Worker counts the redelivered records
 * once, by id); two bridge processes in one consumer group sharing and handing over partitions
 * with no record lost or counted twice. The kills follow events (an answer, a log line), never a clock.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { api } from "./helpers";
import { brokers, closeProducer, committedCount, produce, startBridge, startProxy, streamOf, waitForValues, waitUntil, type BridgeProcess } from "./stream-helpers";

const running: BridgeProcess[] = [];
afterAll(async () => {
  for (const b of running) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill("SIGKILL");
  await closeProducer();
});

function bridge(...args: Parameters<typeof startBridge>): BridgeProcess {
  const b = startBridge(...args);
  running.push(b);
  return b;
}

/** A Kafka connector and two features (sum and count of `amount` per key) on a fresh topic and group. */
async function setup(label: string) {
  const id = `${label}_${randomBytes(4).toString("hex")}`;
  const topic = `t_${id}`;
  const group = `g_${id}`;
  const connector = `kafka_${id}`;
  expect((await api("POST", "/api/v1/connectors", { name: connector, type: "kafka", config: { bootstrap_servers: brokers, group_id: group, auto_offset_reset: "earliest" } })).status).toBe(201);
  for (const aggregation of ["sum", "count"]) {
    const created = await api("POST", "/api/v1/features", { name: `${aggregation}_${id}`, topic, value_field: "amount", aggregation, window_size: "1h", connector });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }
  return { id, topic, group, sum: `sum_${id}`, count: `count_${id}` };
}

/** `n` records from `from` on: key e{i % keys}, amount i % 7 + 1; returns the expected sums and counts. */
function records(from: number, n: number, keys: number, expected: { sum: Record<string, number>; count: Record<string, number> }) {
  const out = [];
  for (let i = from; i < from + n; i++) {
    const key = `e${i % keys}`;
    const amount = (i % 7) + 1;
    expected.sum[key] = (expected.sum[key] ?? 0) + amount;
    expected.count[key] = (expected.count[key] ?? 0) + 1;
    out.push({ key, value: { amount, seq: i } });
  }
  return out;
}

describe("the Kafka bridge (librdkafka's mock cluster)", () => {
  it("forwards records, and commits their offsets only after FStore's 202", async () => {
    const s = await setup("basic");
    const expected = { sum: {}, count: {} };
    await produce(s.topic, records(0, 1200, 5, expected));
    const b = bridge({ FSTORE_STREAM_TOPICS: s.topic });
    await waitForValues(s.sum, expected.sum, 60_000, b.output);
    await waitForValues(s.count, expected.count, 10_000, b.output);
    await waitUntil(async () => (await committedCount(s.group, s.topic)) === 1200, 10_000, () => `offsets not committed:\n${b.output()}`);
    expect((await streamOf(s.topic))?.features.sort()).toEqual([s.count, s.sum]);
    await b.waitForOutput(/lag 0/);
    b.child.kill("SIGTERM");
    expect(await b.exited, b.output()).toBe(0);
    expect(b.output()).toMatch(/stream \(stopped\): .*1200 forwarded/);
  }, 120_000);

  it("drops a record FStore refuses (400 naming it), applies the rest of its batch and commits past it", async () => {
    const s = await setup("refused");
    const expected = { sum: {}, count: {} };
    const good = records(0, 300, 3, expected);
    // A 2 KB key: FStore takes keys of at most 1,024 bytes, so the batch's answer is a 400 naming this record.
    const poison = { key: "k".repeat(2048), value: { amount: 1000, seq: -1 } };
    await produce(s.topic, [...good.slice(0, 150), poison, ...good.slice(150)]);
    const b = bridge({ FSTORE_STREAM_TOPICS: s.topic });
    await waitForValues(s.sum, expected.sum, 60_000, b.output);
    await waitForValues(s.count, expected.count, 10_000);
    await waitUntil(async () => (await committedCount(s.group, s.topic)) === 301, 10_000, () => `offsets not committed past the refused record:\n${b.output()}`);
    expect(b.output()).toMatch(new RegExp(`FStore refused event kafka/${s.topic}/\\d+/\\d+ of '${s.topic}' \\(key: key must be at most 1024 bytes`));
    expect(b.output(), "the refused record's value is not logged").not.toContain("k".repeat(100));
    b.child.kill("SIGTERM");
    expect(await b.exited, b.output()).toBe(0);
    expect(b.output()).toMatch(/300 forwarded, 1 dropped/);
  }, 120_000);

  it("stops with exit code 1 and a clear message when FStore refuses its key", async () => {
    const b = bridge({ FSTORE_KEY: "fsk_not_a_key" });
    expect(await b.exited, b.output()).toBe(1);
    expect(b.output()).toMatch(/401.*check FSTORE_KEY/);
  }, 30_000);

  it("resumes after SIGKILL between a 202 and its commit, and counts every record exactly once", async () => {
    const s = await setup("kill");
    const expected = { sum: {}, count: {} };
    let produced = 0;
    let current: BridgeProcess | null = null;
    let killAfter202 = true;
    // Kills the bridge the moment FStore's 202 went back to it: the records are enqueued, their offsets not committed.
    const proxy = await startProxy({
      afterAnswer: (f) => {
        if (killAfter202 && f.status === 202 && current) {
          killAfter202 = false;
          current.child.kill("SIGKILL");
        }
      },
    });
    try {
      for (let cycle = 0; cycle < 3; cycle++) {
        await produce(s.topic, records(produced, 1500, 6, expected));
        produced += 1500;
        killAfter202 = true;
        current = bridge({ FSTORE_STREAM_TOPICS: s.topic }, { target: proxy.url });
        const code = await current.exited;
        expect(code, `cycle ${cycle}: the bridge was killed\n${current.output()}`).toBe(null);
        expect(current.child.signalCode).toBe("SIGKILL");
      }
      // A last bridge, left running, finishes the topic; the group waits out the dead members' session first.
      current = bridge({ FSTORE_STREAM_TOPICS: s.topic }, { target: proxy.url });
      await waitForValues(s.sum, expected.sum, 90_000, () => current?.output() ?? "");
      await waitForValues(s.count, expected.count, 10_000);
      await waitUntil(async () => (await committedCount(s.group, s.topic)) === produced, 20_000, () => "offsets not all committed");
      const stats = (await streamOf(s.topic))?.stats ?? {};
      // Each SIGKILL followed a 202 the bridge could not commit: those records came again and were not applied twice.
      expect(Number(stats.duplicates), JSON.stringify(stats)).toBeGreaterThan(0);
      const ids = proxy.forwarded.filter((f) => f.status === 202).flatMap((f) => f.ids);
      expect(ids.length, "some records were forwarded more than once").toBeGreaterThan(produced);
      expect(new Set(ids).size, "every record was forwarded").toBe(produced);
      current.child.kill("SIGTERM");
      expect(await current.exited, current.output()).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 240_000);

  it("shares partitions between two bridge processes in one group, through rebalances, losing and doubling nothing", async () => {
    const s = await setup("rebalance");
    const expected = { sum: {}, count: {} };
    const a = bridge({ FSTORE_STREAM_TOPICS: s.topic });
    await produce(s.topic, records(0, 1000, 8, expected));
    await a.waitForOutput(/forwarded/);
    // A second member (the built CLI, `npx fstore stream`) joins: the group rebalances mid-stream.
    const b = bridge({ FSTORE_STREAM_TOPICS: s.topic }, { cli: true });
    await b.waitForOutput(/consuming/);
    for (let round = 0; round < 6; round++) await produce(s.topic, records(1000 + round * 500, 500, 8, expected));
    await waitUntil(async () => /\d+ forwarded/.test(b.output()) && !/: 0 forwarded/.test(b.output().split("\n").filter((l) => l.includes("forwarded")).pop() ?? ""), 60_000, () => `the second bridge never got records:\n${b.output()}`);
    // The first leaves cleanly (SIGTERM: in-flight batch forwarded and committed), the second takes over.
    a.child.kill("SIGTERM");
    expect(await a.exited, a.output()).toBe(0);
    await produce(s.topic, records(4000, 1000, 8, expected));
    await waitForValues(s.sum, expected.sum, 90_000, () => `--- a ---\n${a.output()}\n--- b ---\n${b.output()}`);
    await waitForValues(s.count, expected.count, 10_000);
    await waitUntil(async () => (await committedCount(s.group, s.topic)) === 5000, 20_000, () => "offsets not all committed");
    b.child.kill("SIGINT");
    expect(await b.exited, b.output()).toBe(0);
  }, 240_000);
});
