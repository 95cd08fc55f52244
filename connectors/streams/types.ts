/** What the stream bridge (bridge.ts) and its sources (connectors/kafka/bridge.ts, connectors/pulsar/bridge.ts) share. */
import type { ForwardResult, Log, StreamEvent } from "./forwarder.ts";

/** A connector as the bridge uses it: its full config (secrets included). */
export interface BridgeConnector {
  name: string;
  type: string;
  config: Record<string, unknown>;
}

/** What a source module gets to forward records and report. */
export interface SourceContext {
  log: Log;
  /** Forwards one topic's events; resolves when the offsets behind them may be committed. */
  forward(topic: string, events: StreamEvent[]): Promise<ForwardResult>;
  /** The consumer died for good (after its own retries): the bridge restarts it with backoff. */
  died(error: Error): void;
  /** Kafka consumer tuning (tests and benchmarks use a short wait and session timeout). */
  kafka: KafkaTuning;
}

export interface KafkaTuning {
  /** Longest time a fetch waits for data (kafkajs maxWaitTimeInMs); default 100 ms, so events reach FStore promptly. */
  maxWaitTimeInMs?: number;
  /** kafkajs sessionTimeout (ms); default 30,000. A restarted bridge waits this long for the dead member's partitions. */
  sessionTimeout?: number;
  /** kafkajs heartbeatInterval (ms); default 3,000 (at most a third of the session timeout). */
  heartbeatInterval?: number;
  /** kafkajs rebalanceTimeout (ms); default 60,000. */
  rebalanceTimeout?: number;
}

/** A running consumer of one connector. */
export interface SourceRunner {
  /** Stops consuming; resolves once the in-flight batch was forwarded and committed (or abandoned uncommitted). */
  stop(): Promise<void>;
  /** Records behind the committed position per topic, when the source can tell. */
  lag(): Record<string, number | null>;
}

export type SourceStarter = (connector: BridgeConnector, topics: string[], ctx: SourceContext) => Promise<SourceRunner>;

