/**
 * Loads the stream bridge (connectors/streams/bridge.ts, compiled into the package as
 * dist/sdk/bridges) on demand: only a program that streams — `store.startStreamingFeature(...)`,
 * `npx fstore stream` — loads it and kafkajs; the rest of the SDK (and any Worker bundling it)
 * never does. The bridge talks to FStore over HTTP like the rest of the SDK (docs/bridges.md).
 */

/** Events forwarded and dropped per topic. */
export type StreamTotals = Record<string, { accepted: number; dropped: number }>;

/** A running in-process bridge (the SDK's startStreamingFeature). */
export interface StreamingHandle {
  /** The topic the feature reads. */
  readonly topic: string;
  /** The connector it reads through. */
  readonly connector: string;
  /** Lets the in-flight batch finish and commit, then stops consuming. */
  stop(): Promise<void>;
  /** Resolves when stopped; rejects when FStore refused the key (the bridge stopped by itself). */
  readonly done: Promise<void>;
  /** Events forwarded (202) and dropped (refused by FStore, logged) so far, per topic. */
  totals(): StreamTotals;
}

export interface StreamingOptions {
  /** Where the bridge's log lines go (subscriptions, retries, throughput and lag); default console.log. */
  log?: (line: string) => void;
  /** Print throughput and lag this often (0: never); default 5 s. */
  statsMs?: number;
  /** Re-read the subscriptions this often; default 30 s. */
  refreshMs?: number;
  /** Kafka consumer tuning: fetch wait (default 100 ms), session timeout (default 30 s), heartbeat interval. */
  kafka?: { maxWaitTimeInMs?: number; sessionTimeout?: number; heartbeatInterval?: number };
}

/** The parts of connectors/streams/bridge.ts the SDK uses (the SDK imports nothing of connectors/ statically). */
export interface BridgeModule {
  StreamBridge: new (options: {
    url: string;
    apiKey?: string;
    topics?: string[];
    connectors?: { name: string; type: string; config: Record<string, unknown> }[];
    refreshMs?: number;
    statsMs?: number;
    kafka?: StreamingOptions["kafka"];
    log?: (line: string) => void;
  }) => { start(): Promise<void>; stop(): Promise<void>; readonly done: Promise<void>; totals(): StreamTotals };
}

export interface BridgeMainModule {
  runFromEnv(types?: string[]): Promise<void>;
}

/** The bridge next to this file: the sources when run from the repository, the compiled copy in the package. */
function bridgeUrl(file: "bridge" | "main"): string {
  const fromSources = import.meta.url.endsWith(".ts");
  return new URL(fromSources ? `../../connectors/streams/${file}.ts` : `./bridges/streams/${file}.js`, import.meta.url).href;
}

export async function loadBridge(): Promise<BridgeModule> {
  return (await import(bridgeUrl("bridge"))) as BridgeModule;
}

export async function loadBridgeMain(): Promise<BridgeMainModule> {
  return (await import(bridgeUrl("main"))) as BridgeMainModule;
}
