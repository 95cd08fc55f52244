/**
 * The Kafka bridge (kafkajs): one consumer-group member per Kafka connector, reading the topics of
 * its stream features. Each fetched batch (one partition) is forwarded in chunks of at most 500
 * records with ids `kafka/{topic}/{partition}/{offset}`; the offset after a chunk is committed
 * (autoCommit off, an explicit commitOffsets) only once the Worker answered 202 — so a bridge killed
 * at any moment resumes from the last committed offset, and the records it forwards again are
 * counted once (the Worker dedupes by id).
 * FSTORE_STREAM_TYPES=kafka `npm run stream` runs the loop for Kafka connectors only (docs/bridges.md).
 */
import { Kafka, logLevel, type Consumer, type KafkaMessage, type SASLOptions } from "kafkajs";
import type { StreamEvent } from "../streams/forwarder.ts";
import type { BridgeConnector, SourceContext, SourceRunner } from "../streams/types.ts";

/** Kafka record → the contract's event: key as text, payload parsed when it is JSON, record timestamp. */
export function kafkaEvent(topic: string, partition: number, message: KafkaMessage): StreamEvent {
  const text = message.value === null ? null : message.value.toString("utf8");
  let value: unknown = text;
  if (text !== null) {
    try {
      value = JSON.parse(text);
    } catch {
      // not JSON: forwarded as the string
    }
  }
  const ts = Number(message.timestamp);
  return {
    key: message.key === null || message.key === undefined ? null : message.key.toString("utf8"),
    value,
    ...(Number.isFinite(ts) && ts > 0 ? { timestamp: ts } : {}),
    id: `kafka/${topic}/${partition}/${message.offset}`,
  };
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** kafkajs client options from the connector's config (docs/connectors.md#kafka). */
export function kafkaClientConfig(config: Record<string, unknown>) {
  const brokers = String(config.bootstrap_servers ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (brokers.length === 0) throw new Error("bootstrap_servers is empty");
  const protocol = (str(config.security_protocol) ?? "PLAINTEXT").toUpperCase();
  const ssl = protocol === "SSL" || protocol === "SASL_SSL";
  let sasl: SASLOptions | undefined;
  if (protocol.startsWith("SASL_")) {
    const mechanism = (str(config.sasl_mechanism) ?? "plain").toLowerCase();
    const username = str(config.sasl_username) ?? "";
    const password = str(config.sasl_password) ?? "";
    if (mechanism === "plain") sasl = { mechanism: "plain", username, password };
    else if (mechanism === "scram-sha-256") sasl = { mechanism: "scram-sha-256", username, password };
    else if (mechanism === "scram-sha-512") sasl = { mechanism: "scram-sha-512", username, password };
    else throw new Error(`sasl_mechanism '${mechanism}' is not one of plain, scram-sha-256, scram-sha-512`);
  }
  return { brokers, clientId: str(config.client_id) ?? "fstore-bridge", ssl, sasl };
}

export async function startKafka(connector: BridgeConnector, topics: string[], ctx: SourceContext): Promise<SourceRunner> {
  const config = connector.config;
  const groupId = str(config.group_id);
  if (!groupId) throw new Error(`connector '${connector.name}' has no group_id`);
  const kafka = new Kafka({
    ...kafkaClientConfig(config),
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 30_000 },
  });
  const tuning = ctx.kafka;
  const sessionTimeout = tuning.sessionTimeout ?? 30_000;
  const consumer: Consumer = kafka.consumer({
    groupId,
    sessionTimeout,
    heartbeatInterval: tuning.heartbeatInterval ?? Math.min(3000, Math.floor(sessionTimeout / 3)),
    rebalanceTimeout: tuning.rebalanceTimeout ?? 60_000,
    maxWaitTimeInMs: tuning.maxWaitTimeInMs ?? 100,
    allowAutoTopicCreation: false,
  });
  /** Per "topic/partition": [high watermark, next offset to commit]. */
  const positions = new Map<string, [bigint, bigint]>();
  let stopping = false;

  consumer.on(consumer.events.CRASH, (e) => {
    // kafkajs restarts the consumer itself after retriable errors; otherwise the bridge starts a new one with backoff.
    if (e.payload.restart || stopping) return;
    stopping = true;
    void consumer.disconnect().catch(() => undefined).finally(() => ctx.died(e.payload.error));
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: str(config.auto_offset_reset) === "earliest" });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const { topic, partition } = batch;
        const position = `${topic}/${partition}`;
        const events = batch.messages.map((m) => kafkaEvent(topic, partition, m));
        for (let i = 0; i < events.length; i += 500) {
          if (!isRunning() || isStale()) return;
          const chunk = batch.messages.slice(i, i + 500);
          await ctx.forward(topic, events.slice(i, i + 500)); // throws (nothing committed) when stopping
          const last = chunk[chunk.length - 1]!.offset;
          const next = BigInt(last) + 1n;
          try {
            await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
          } catch (err) {
            // Usually a rebalance took the partition away: its new owner resumes from the last commit.
            ctx.log(`stream: kafka commit of ${position} at ${next} failed (${(err as Error).message}); the records after the last commit will be forwarded again`);
            return;
          }
          resolveOffset(last);
          positions.set(position, [BigInt(batch.highWatermark), next]);
          await heartbeat();
        }
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw err;
  }
  return {
    async stop() {
      stopping = true;
      await consumer.disconnect(); // waits for the batch in flight (forwarded and committed, or abandoned)
    },
    lag() {
      const lags: Record<string, number | null> = Object.fromEntries(topics.map((t) => [t, null]));
      for (const [position, [high, next]] of positions) {
        const topic = position.slice(0, position.lastIndexOf("/"));
        lags[topic] = (lags[topic] ?? 0) + Number(high > next ? high - next : 0n);
      }
      return lags;
    },
  };
}

