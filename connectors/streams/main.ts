/**
 * `npm run stream` (also `npx fstore stream`): the stream bridge as a process, configured by
 * environment (docs/bridges.md):
 *   FSTORE_URL, FSTORE_KEY                 the Worker and a key with the read and write scopes
 *   FSTORE_SECRET_<CONNECTOR>_<FIELD>      connector secrets (sasl_password, token)
 *   FSTORE_STREAM_TOPICS                   only these topics (comma-separated); default all
 *   FSTORE_STREAM_TYPES                    only connectors of these types (kafka, pulsar); default both
 *   FSTORE_STREAM_REFRESH_MS, FSTORE_STREAM_STATS_MS   re-read subscriptions / print stats (30000, 5000)
 *   FSTORE_KAFKA_MAX_WAIT_MS, FSTORE_KAFKA_SESSION_TIMEOUT_MS, FSTORE_KAFKA_HEARTBEAT_MS   consumer tuning
 * Exits 0 after SIGINT/SIGTERM (in-flight batches forwarded and committed), 1 when FStore refuses
 * the key, 2 on a bad setting.
 */
import { runUntilSignal, type BridgeOptions } from "./bridge.ts";

function numberVar(env: Record<string, string | undefined>, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of milliseconds, not '${text}'`);
  return n;
}

/** Bridge options from the environment. */
export function optionsFromEnv(env: Record<string, string | undefined> = process.env, types?: string[]): BridgeOptions {
  return {
    url: env.FSTORE_URL ?? "http://localhost:8000",
    apiKey: env.FSTORE_KEY,
    env,
    types: types ?? (env.FSTORE_STREAM_TYPES ? env.FSTORE_STREAM_TYPES.split(",").map((t) => t.trim()).filter(Boolean) : undefined),
    topics: env.FSTORE_STREAM_TOPICS ? env.FSTORE_STREAM_TOPICS.split(",").map((t) => t.trim()).filter(Boolean) : undefined,
    refreshMs: numberVar(env, "FSTORE_STREAM_REFRESH_MS"),
    statsMs: numberVar(env, "FSTORE_STREAM_STATS_MS"),
    kafka: {
      maxWaitTimeInMs: numberVar(env, "FSTORE_KAFKA_MAX_WAIT_MS"),
      sessionTimeout: numberVar(env, "FSTORE_KAFKA_SESSION_TIMEOUT_MS"),
      heartbeatInterval: numberVar(env, "FSTORE_KAFKA_HEARTBEAT_MS"),
    },
  };
}

/** Runs the bridge until a signal; sets the process's exit code. */
export async function runFromEnv(types?: string[]): Promise<void> {
  let options: BridgeOptions;
  try {
    options = optionsFromEnv(process.env, types);
  } catch (err) {
    console.error(`stream: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  console.log(`stream: bridge for ${options.types?.join(" and ") ?? "kafka and pulsar"} connectors of ${options.url}`);
  try {
    await runUntilSignal(options);
    process.exitCode = 0;
  } catch (err) {
    console.error(`stream: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runFromEnv();
