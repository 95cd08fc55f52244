/**
 * Shared by the stream bridge tests: the mock Kafka cluster (test/e2e/setup/kafka-mock.ts) through
 * kafkajs, bridge processes (`npm run stream` and `npx fstore stream`) as children, a pass-through
 * proxy in front of the e2e wrangler dev that records each forwarded request (and can refuse some
 * with a 503, or act the moment a 202 went back), and waiting for FStore's values.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { inject } from "vitest";
import { adminKey, api, repoRoot, url } from "./helpers";

export const brokers = inject("kafkaBrokers");

export const kafka = () => new Kafka({ brokers: brokers.split(","), clientId: "fstore-test", logLevel: logLevel.NOTHING });

let producer: Producer | null = null;

/** Produces JSON records (key = entity) to a topic of the mock cluster. */
export async function produce(topic: string, records: { key: string; value: unknown }[]): Promise<void> {
  if (!producer) {
    producer = kafka().producer();
    await producer.connect();
  }
  for (let i = 0; i < records.length; i += 500) {
    await producer.send({ topic, messages: records.slice(i, i + 500).map((r) => ({ key: r.key, value: JSON.stringify(r.value) })) });
  }
}

export async function closeProducer(): Promise<void> {
  await producer?.disconnect();
  producer = null;
}

/** Offsets a group committed on a topic, summed over partitions (-1 = none counts 0). */
export async function committedCount(groupId: string, topic: string): Promise<number> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(Number(p.offset), 0), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Short consumer-group timings, so a restarted or added bridge gets partitions within seconds. */
export const FAST_GROUP = { FSTORE_KAFKA_SESSION_TIMEOUT_MS: "6000", FSTORE_KAFKA_HEARTBEAT_MS: "1000", FSTORE_KAFKA_MAX_WAIT_MS: "100" };

export interface BridgeProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * A bridge process: `node connectors/streams/main.ts` (npm run stream), or the built CLI's
 * `fstore stream`. Test files share the wrangler dev and the mock cluster and run in parallel, so a
 * test's bridge names its own topics (FSTORE_STREAM_TOPICS): one that consumed every connector would
 * join the other tests' consumer groups and take their partitions.
 */
export function startBridge(env: Record<string, string>, { cli = false, target = url } = {}): BridgeProcess {
  const args = cli ? [path.join(repoRoot, "dist", "sdk", "cli", "main.js"), "stream"] : [path.join(repoRoot, "connectors", "streams", "main.ts")];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, FSTORE_URL: target, FSTORE_KEY: adminKey, FSTORE_STREAM_STATS_MS: "1000", FSTORE_STREAM_REFRESH_MS: "2000", ...FAST_GROUP, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    waitForOutput: (pattern, timeoutMs = 30_000) => waitUntil(async () => pattern.test(out), timeoutMs, () => `bridge output never matched ${pattern}:\n${out}`),
  };
}

/** Polls `check` every 100 ms until it is true; fails with `message()` after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, message: () => string | Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(await message());
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A feature's latest value for an entity, or undefined when it has none. */
export async function latest(feature: string, entity: string): Promise<unknown> {
  const { status, body } = await api("GET", `/api/v1/features/${encodeURIComponent(feature)}/values/${encodeURIComponent(entity)}`);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`GET latest ${feature}/${entity}: ${status} ${JSON.stringify(body)}`);
  return (body as { value: unknown }).value;
}

/** Waits until every entity's latest value is what `expected` says; the message lists what differs. */
export async function waitForValues(feature: string, expected: Record<string, unknown>, timeoutMs = 60_000, context: () => string = () => ""): Promise<void> {
  let differ: string[] = [];
  await waitUntil(
    async () => {
      differ = [];
      for (const [entity, value] of Object.entries(expected)) {
        const got = await latest(feature, entity);
        if (JSON.stringify(got) !== JSON.stringify(value)) differ.push(`${entity}: ${JSON.stringify(got)} (want ${JSON.stringify(value)})`);
      }
      return differ.length === 0;
    },
    timeoutMs,
    () => `${feature} never reached the expected values: ${differ.join(", ")}\n${context()}`,
  );
}

/** The GET /api/v1/streams entry of a topic. */
export async function streamOf(topic: string): Promise<{ topic: string; features: string[]; stats: Record<string, number | string | null> } | undefined> {
  const { status, body } = await api("GET", "/api/v1/streams");
  if (status !== 200) throw new Error(`GET /api/v1/streams: ${status} ${JSON.stringify(body)}`);
  return (body as { streams: { topic: string; features: string[]; stats: Record<string, number | string | null> }[] }).streams.find((s) => s.topic === topic);
}

export interface Forwarded {
  topic: string;
  status: number;
  ids: string[];
}

/**
 * A pass-through HTTP proxy to the e2e wrangler dev: every request goes to the real Worker and its
 * answer comes back unchanged, except the ones `refuse` picks, which get a 503 without reaching it.
 * `afterAnswer` runs synchronously right after an answer to a forwarded batch was sent back.
 */
export async function startProxy(options: { refuse?: (topic: string, ids: string[]) => boolean; afterAnswer?: (f: Forwarded) => void } = {}) {
  const forwarded: Forwarded[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks)));
    });
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const match = /^\/api\/v1\/streams\/([^/]+)\/events$/.exec(req.url ?? "");
    const topic = match ? decodeURIComponent(match[1]!) : "";
    const ids = match ? (JSON.parse(body.toString()) as { id?: string }[]).map((e) => e.id ?? "") : [];
    if (match && options.refuse?.(topic, ids)) {
      forwarded.push({ topic, status: 503, ids });
      res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "UNAVAILABLE", message: "refused by the test proxy" } }));
      return;
    }
    const answer = await fetch(`${url}${req.url}`, {
      method: req.method,
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => ["authorization", "content-type"].includes(k)) as [string, string][]),
      body: ["GET", "HEAD"].includes(req.method ?? "GET") ? undefined : body,
    });
    const text = await answer.text();
    const f = match ? { topic, status: answer.status, ids } : null;
    if (f) forwarded.push(f); // recorded before the bridge can see the answer
    res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" }).end(text);
    if (f) options.afterAnswer?.(f);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
