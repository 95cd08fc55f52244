/**
 * The stream bridge: the loop `npm run stream` (`npx fstore stream`), the Kafka and Pulsar bridges
 * and the SDK's `startStreamingFeature` share (docs/bridges.md). It reads the subscriptions from
 * the Worker (`GET /api/v1/streams`), runs one consumer per connector for the topics its features
 * read (connectors/kafka/bridge.ts, connectors/pulsar/bridge.ts), forwards batches of at most 500
 * records to `POST /api/v1/streams/{topic}/events` and lets the consumer commit / ack only after
 * the 202 (connectors/streams/forwarder.ts). It re-reads the subscriptions every `refreshMs` (and
 * right after a 404) to pick up new features and topics, restarts a consumer that died with
 * backoff, prints throughput and lag every `statsMs`, and on stop() lets in-flight batches finish
 * and commit. It talks to the Worker over HTTP only; secrets come from the environment
 * (FSTORE_SECRET_<CONNECTOR>_<FIELD>) or, in-process, from the caller's connector objects.
 */
import { FatalError, WorkerApi, type ForwardResult, type Log, type StreamEvent, type StreamSubscription } from "./forwarder.ts";
import type { BridgeConnector, KafkaTuning, SourceRunner, SourceStarter } from "./types.ts";

export type { StreamEvent, StreamSubscription, Log } from "./forwarder.ts";
export type { BridgeConnector, KafkaTuning, SourceContext, SourceRunner, SourceStarter } from "./types.ts";

export interface BridgeOptions {
  /** FStore's URL (FSTORE_URL). */
  url: string;
  /** API key with the read and write scopes (FSTORE_KEY). */
  apiKey?: string;
  /** Only connectors of these types (kafka, pulsar); default both. */
  types?: string[];
  /** Only these topics (the SDK's startStreamingFeature); default every topic with a connector. */
  topics?: string[];
  /** Full configs (with secrets) by connector name; others take secrets from FSTORE_SECRET_* variables. */
  connectors?: BridgeConnector[];
  /** Environment to read secrets from; default process.env. */
  env?: Record<string, string | undefined>;
  /** Re-read GET /api/v1/streams this often; default 30 s. */
  refreshMs?: number;
  /** Print throughput and lag this often (0: never); default 5 s. */
  statsMs?: number;
  /** How long stop() waits for in-flight batches before abandoning them uncommitted; default 15 s. */
  drainMs?: number;
  kafka?: KafkaTuning;
  log?: Log;
  fetch?: typeof fetch;
}

/** `FSTORE_SECRET_<CONNECTOR>_<FIELD>`: upper-cased, every non-alphanumeric character `_`. */
export function secretVariable(connector: string, field: string): string {
  const norm = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, "_");
  return `FSTORE_SECRET_${norm(connector)}_${norm(field)}`;
}

const STARTERS: Record<string, () => Promise<SourceStarter>> = {
  kafka: async () => (await import("../kafka/bridge.ts")).startKafka,
  pulsar: async () => (await import("../pulsar/bridge.ts")).startPulsar,
};

interface Running {
  key: string;
  runner: SourceRunner | null;
  starting: Promise<void> | null;
  failures: number;
  retryAt: number;
  topics: string[];
}

interface TopicStats {
  accepted: number;
  dropped: number;
  window: number;
}

export class StreamBridge {
  private readonly api: WorkerApi;
  private readonly options: BridgeOptions;
  private readonly log: Log;
  private readonly running = new Map<string, Running>();
  private readonly stats = new Map<string, TopicStats>();
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private statsAt = Date.now();
  private lastStats = "";
  private lastStatsPrinted = 0;
  private stopped = false;
  /** Aborted by stop(): ends the retries of reading the subscriptions at once. */
  private readonly stopping = new AbortController();
  private refreshing: Promise<void> | null = null;
  private fatal: ((err: Error) => void) | null = null;
  private fatalError: Error | null = null;
  /** Resolves when the bridge stopped; rejects with a FatalError (bad key) that stopped it. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(options: BridgeOptions) {
    this.options = options;
    this.log = options.log ?? ((line) => console.log(line));
    this.api = new WorkerApi({ url: options.url, apiKey: options.apiKey, log: this.log, fetch: options.fetch });
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.fatal = reject;
    });
    this.done.catch(() => undefined); // observed by whoever awaits it
  }

  /** Reads the subscriptions and starts the consumers; resolves once the first refresh is done. */
  async start(): Promise<void> {
    await this.refresh();
    const statsMs = this.options.statsMs ?? 5000;
    if (statsMs > 0) {
      this.statsTimer = setInterval(() => this.printStats(), statsMs);
      this.statsTimer.unref?.();
    }
  }

  /** Accepted and dropped events per topic since start. */
  totals(): Record<string, { accepted: number; dropped: number }> {
    return Object.fromEntries([...this.stats].map(([t, s]) => [t, { accepted: s.accepted, dropped: s.dropped }]));
  }

  /** Lets in-flight batches finish and commit (up to drainMs), stops every consumer. */
  async stop(): Promise<void> {
    if (this.stopped) return this.done;
    this.stopped = true;
    this.stopping.abort();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    await this.refreshing?.catch(() => undefined);
    const drain = setTimeout(() => {
      this.log(`stream: in-flight batches not forwarded after ${(this.options.drainMs ?? 15_000) / 1000} s: abandoned uncommitted (they will be redelivered)`);
      this.api.stopping.abort();
    }, this.options.drainMs ?? 15_000);
    await Promise.all([...this.running.values()].map(async (r) => {
      await r.starting?.catch(() => undefined);
      await r.runner?.stop().catch((err: unknown) => this.log(`stream: stopping ${r.key}: ${(err as Error).message}`));
    }));
    clearTimeout(drain);
    this.printStats(true);
    if (this.fatalError) this.fatal?.(this.fatalError);
    else this.resolveDone();
  }

  private scheduleRefresh(ms: number): void {
    if (this.stopped) return;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    // Not unref'd: a running bridge keeps its process alive (also while it waits to retry) until stop().
    this.refreshTimer = setTimeout(() => void this.refresh(), ms);
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.doRefresh()
      .catch((err: unknown) => {
        // Not awaited here: stop() waits for this very refresh to end.
        if (err instanceof FatalError) return void setImmediate(() => void this.failHard(err));
        if (!this.stopped) this.log(`stream: reading the subscriptions failed: ${(err as Error).message}`);
      })
      .finally(() => {
        this.refreshing = null;
        this.scheduleRefresh(this.options.refreshMs ?? 30_000);
      });
    return this.refreshing;
  }

  private async failHard(err: Error): Promise<void> {
    this.log(`stream: ${err.message}; stopping`);
    this.fatalError ??= err;
    await this.stop();
  }

  private connectorOf(sub: StreamSubscription): BridgeConnector | null {
    if (!sub.connector) return null;
    const given = this.options.connectors?.find((c) => c.name === sub.connector?.name);
    if (given) return given;
    const env = this.options.env ?? process.env;
    const config: Record<string, unknown> = { ...sub.connector.config };
    for (const field of sub.connector.secret_fields) {
      const value = env[secretVariable(sub.connector.name, field)];
      if (value !== undefined) config[field] = value;
    }
    return { name: sub.connector.name, type: sub.connector.type, config };
  }

  private async doRefresh(): Promise<void> {
    const subs = await this.api.streams(this.stopping.signal);
    if (this.stopped) return;
    const wanted = new Map<string, { connector: BridgeConnector; topics: Set<string> }>();
    for (const sub of subs) {
      if (this.options.topics && !this.options.topics.includes(sub.topic)) continue;
      const connector = this.connectorOf(sub);
      if (!connector) continue; // fed over HTTP only
      if (this.options.types && !this.options.types.includes(connector.type)) continue;
      if (!STARTERS[connector.type]) {
        this.log(`stream: connector '${connector.name}' has type ${connector.type}, which no bridge consumes; skipped`);
        continue;
      }
      const entry = wanted.get(connector.name) ?? { connector, topics: new Set<string>() };
      entry.topics.add(sub.topic);
      wanted.set(connector.name, entry);
    }
    // Stop consumers whose connector is gone or whose topics or config changed.
    for (const [name, r] of this.running) {
      const w = wanted.get(name);
      const key = w ? StreamBridge.keyOf(w.connector, [...w.topics]) : null;
      if (key !== r.key) {
        this.log(`stream: ${w ? `subscriptions of '${name}' changed` : `no feature reads through '${name}' any more`}: stopping its consumer`);
        this.running.delete(name);
        await r.starting?.catch(() => undefined);
        await r.runner?.stop().catch((err: unknown) => this.log(`stream: stopping '${name}': ${(err as Error).message}`));
      }
    }
    const now = Date.now();
    for (const [name, w] of wanted) {
      const topics = [...w.topics].sort();
      const key = StreamBridge.keyOf(w.connector, topics);
      let r = this.running.get(name);
      if (!r) {
        r = { key, runner: null, starting: null, failures: 0, retryAt: 0, topics };
        this.running.set(name, r);
      }
      if (r.runner || r.starting || r.retryAt > now + 100) continue; // the refresh of a backoff may fire a few ms early
      const entry = r;
      entry.starting = this.startRunner(w.connector, topics, entry).finally(() => (entry.starting = null));
    }
    await Promise.all([...this.running.values()].map((r) => r.starting?.catch(() => undefined)));
  }

  private static keyOf(connector: BridgeConnector, topics: string[]): string {
    return JSON.stringify([connector.type, connector.config, [...topics].sort()]);
  }

  private async startRunner(connector: BridgeConnector, topics: string[], entry: Running): Promise<void> {
    const label = `${connector.type} '${connector.name}'`;
    try {
      const start = await STARTERS[connector.type]!();
      const runner = await start(connector, topics, {
        log: this.log,
        kafka: this.options.kafka ?? {},
        forward: (topic, events) => this.forward(topic, events),
        died: (error) => {
          if (this.running.get(connector.name) !== entry || this.stopped) return;
          this.log(`stream: ${label} consumer died (${error.message}); restarting`);
          entry.runner = null;
          this.backoff(entry);
        },
      });
      if (this.stopped || this.running.get(connector.name) !== entry) {
        await runner.stop();
        return;
      }
      entry.runner = runner;
      entry.failures = 0;
      this.log(`stream: ${label} consuming ${topics.join(", ")}`);
    } catch (err) {
      this.log(`stream: starting the ${label} consumer failed: ${(err as Error).message}`);
      this.backoff(entry);
    }
  }

  private backoff(entry: Running): void {
    entry.failures++;
    const delay = Math.min(500 * 2 ** (entry.failures - 1), 30_000);
    entry.retryAt = Date.now() + delay;
    this.scheduleRefresh(delay);
  }

  private async forward(topic: string, events: StreamEvent[]): Promise<ForwardResult> {
    try {
      const r = await this.api.forward(topic, events);
      const s = this.stats.get(topic) ?? { accepted: 0, dropped: 0, window: 0 };
      s.accepted += r.accepted;
      s.dropped += r.dropped;
      s.window += r.accepted;
      this.stats.set(topic, s);
      if (r.gone) this.scheduleRefresh(0);
      return r;
    } catch (err) {
      if (err instanceof FatalError) void this.failHard(err);
      throw err;
    }
  }

  private printStats(final = false): void {
    const seconds = Math.max((Date.now() - this.statsAt) / 1000, 0.001);
    this.statsAt = Date.now();
    const lags: Record<string, number | null> = {};
    for (const r of this.running.values()) Object.assign(lags, r.runner?.lag() ?? {});
    const topics = new Set([...this.stats.keys(), ...Object.keys(lags)]);
    if (topics.size === 0) return;
    const parts = [...topics].sort().map((t) => {
      const s = this.stats.get(t) ?? { accepted: 0, dropped: 0, window: 0 };
      const rate = s.window / seconds;
      s.window = 0;
      const lag = lags[t];
      return `${t}: ${final ? "" : `${rate.toFixed(rate < 10 ? 1 : 0)} ev/s, `}${s.accepted} forwarded${s.dropped ? `, ${s.dropped} dropped` : ""}, lag ${lag ?? "n/a"}`;
    });
    const line = `stream${final ? " (stopped)" : ""}: ${parts.join("; ")}`;
    // While idle (same totals, same lag) a line every 30 s is enough.
    const idle = line === this.lastStats;
    if (!final && idle && Date.now() - this.lastStatsPrinted < 30_000) return;
    this.lastStats = line;
    this.lastStatsPrinted = Date.now();
    this.log(line);
  }
}

/**
 * Runs a bridge until SIGINT/SIGTERM (then drains, commits and resolves) or a FatalError (rejects):
 * what `npm run stream`, `npx fstore stream` and the two bridge entry points do.
 */
export async function runUntilSignal(options: BridgeOptions): Promise<void> {
  const bridge = new StreamBridge(options);
  const log = options.log ?? ((line: string) => console.log(line));
  const onSignal = (signal: string) => {
    log(`stream: ${signal}: finishing in-flight batches, committing, stopping`);
    void bridge.stop();
  };
  const sigint = () => onSignal("SIGINT");
  const sigterm = () => onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  try {
    await bridge.start();
    await bridge.done;
  } finally {
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
  }
}
