/**
 * The guide's "Exemplo Kafka Streaming" run end to end as its headers say, against the mock Kafka
 * cluster and the e2e wrangler dev: examples/kafka_streaming.py (which binds the feature and
 * leaves a bridge process running: `node dist/sdk/cli/main.js stream`) and its TypeScript twin
 * (the bridge in-process until SIGINT). The guide's config reads from "latest", so records are
 * produced until the bridge has joined and one shows up; then a last one must arrive exactly.
 * The guide's definition sets no value_type: a stream `last` feature then keeps the payload field
 * as it comes (json), so the actions produced here are strings, as a user's would be.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pythonCommand } from "../setup/python";
import { clientEnv, printed, repoRoot, run } from "./helpers";
import { brokers, closeProducer, FAST_GROUP, latest, produce, streamOf, waitForValues, waitUntil } from "./stream-helpers";

const env = { ...clientEnv(), KAFKA_BOOTSTRAP_SERVERS: brokers, ...FAST_GROUP, FSTORE_STREAM_STATS_MS: "1000" };
afterAll(() => closeProducer());

/** Produces actions for customer_1 until the bridge shows one, then a last one that must arrive. */
async function streamAndCheck(context: () => string, last: string) {
  let n = 1000;
  const before = await latest("customer_last_action", "customer_1");
  await waitUntil(
    async () => {
      await produce("customer_events", [{ key: "customer_1", value: { action: `view_${n++}` } }]);
      await new Promise((r) => setTimeout(r, 200));
      const got = await latest("customer_last_action", "customer_1");
      return typeof got === "string" && got.startsWith("view_") && got !== before;
    },
    60_000,
    async () => `no action of customer_1 reached FStore (customer_events: ${JSON.stringify((await streamOf("customer_events"))?.stats)})\n${context()}`,
  );
  await new Promise((r) => setTimeout(r, 300));
  await produce("customer_events", [{ key: "customer_1", value: { action: last } }]);
  await waitForValues("customer_last_action", { customer_1: last }, 30_000, context);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("the guide's Kafka streaming example", () => {
  it("kafka_streaming.py binds the feature and starts a bridge that streams customer_events", async () => {
    const ran = await run(pythonCommand(), ["examples/kafka_streaming.py"], { env });
    expect(ran.code, printed(ran)).toBe(0);
    const pid = Number(/bridge pid (\d+)/.exec(ran.stdout)?.[1]);
    const logFile = /log (\S+)$/m.exec(ran.stdout)?.[1] ?? "";
    expect(pid, ran.stdout).toBeGreaterThan(0);
    const { readFileSync } = await import("node:fs");
    try {
      await streamAndCheck(() => readFileSync(logFile, "utf8"), "purchase");
    } finally {
      if (alive(pid)) process.kill(pid, "SIGTERM");
      await waitUntil(async () => !alive(pid), 20_000, () => `the bridge ${pid} did not stop on SIGTERM`);
    }
    expect(readFileSync(logFile, "utf8")).toMatch(/SIGTERM: finishing in-flight batches/);
  }, 120_000);

  it("kafka_streaming.ts streams in-process until SIGINT, then exits 0", async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, "examples", "kafka_streaming.ts")], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      await waitUntil(async () => /streaming 'customer_last_action'/.test(out), 30_000, () => out);
      await streamAndCheck(() => out, "add_to_cart");
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited, out).toBe(0);
  }, 120_000);
});
