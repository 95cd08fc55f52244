/**
 * The CLI's commands, each a function of (store, arguments, options) that prints its result as a
 * table (or JSON with --json) and resolves to an exit code. Usage errors throw UsageError.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { Feature, FeatureDefinition, FeatureStore, Run, SourceType } from "../client.ts";
import { ProgressView, record, runSummary, table, type FileProgress, type Row } from "./output.ts";

/** A mistake in how the CLI was called (exit code 2). */
export class UsageError extends Error {}

export interface Options {
  json: boolean;
  group?: string;
  entity?: string;
  source?: string;
  features?: string;
  timestamp?: string;
  type?: string;
  config?: string;
  set?: string[];
  scopes?: string;
  limit?: string;
  wait: boolean;
  test: boolean;
}

export type Command = (store: FeatureStore, args: string[], options: Options) => Promise<number>;

/** Exit codes (docs/cli.md). */
export const EXIT = { ok: 0, api: 1, usage: 2, unreachable: 3, auth: 4, failed: 5 } as const;

function print(options: Options, data: unknown, human: () => string): void {
  console.log(options.json ? JSON.stringify(data, null, 2) : human());
}

function need(args: string[], count: number, usage: string): string[] {
  if (args.length < count) throw new UsageError(`usage: fstore ${usage}`);
  return args;
}

/** A JSON or YAML file (`-` = stdin). */
function readDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid ${/\.json$/i.test(file) ? "JSON" : "YAML"}: ${(err as Error).message}`);
  }
}

/** A value typed on the command line: JSON when it parses (99.99, true, [1,2]), else the text itself. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const FEATURE_COLUMNS = ["name", "entity_id", "feature_group", "value_type", "source_type", "connector", "schedule", "update_frequency"];
const RUN_COLUMNS = ["id", "status", "trigger", "rows_read", "rows_written", "rows_unchanged", "duration_ms", "created_at", "error"];

const SOURCE_TYPES: readonly SourceType[] = ["push", "sql", "file", "stream"];

export const featuresList: Command = async (store, _args, o) => {
  const source = SOURCE_TYPES.find((t) => t === o.source);
  if (o.source && !source) throw new UsageError(`--source must be one of ${SOURCE_TYPES.join(", ")}`);
  const features = await store.listFeatures({ feature_group: o.group, entity: o.entity, source_type: source });
  print(o, features, () => table(features, FEATURE_COLUMNS));
  return EXIT.ok;
};

export const featuresGet: Command = async (store, args, o) => {
  const [name] = need(args, 1, "features get <name>");
  const feature = await store.getFeature(name as string);
  print(o, feature, () => record(feature));
  return EXIT.ok;
};

/** Registers every definition of a JSON/YAML file: one object, a list, or `{features: [...]}`. */
export const featuresCreate: Command = async (store, args, o) => {
  const [file] = need(args, 1, "features create <file.json|file.yaml|->");
  const doc = readDocument(file as string);
  const list = Array.isArray(doc) ? doc : doc && typeof doc === "object" && Array.isArray((doc as { features?: unknown }).features) ? (doc as { features: unknown[] }).features : [doc];
  if (list.length === 0 || list.some((d) => !d || typeof d !== "object" || typeof (d as { name?: unknown }).name !== "string")) {
    throw new UsageError(`${file} must hold a feature definition with a name, a list of them, or {features: [...]}`);
  }
  const done: Feature[] = [];
  for (const definition of list as FeatureDefinition[]) done.push(await store.registerFeature(definition));
  print(o, done, () => table(done, FEATURE_COLUMNS));
  return EXIT.ok;
};

export const featuresDelete: Command = async (store, args, o) => {
  const [name] = need(args, 1, "features delete <name>");
  await store.deleteFeature(name as string);
  print(o, { deleted: name }, () => `deleted feature ${name}`);
  return EXIT.ok;
};

export const push: Command = async (store, args, o) => {
  const [feature, entity, value] = need(args, 3, "push <feature> <entity> <value> [--timestamp T]") as [string, string, string];
  const timestamp = o.timestamp ?? new Date().toISOString();
  await store.sendFeatureValue(feature, entity, parseValue(value), timestamp);
  const latest = await store.getLatestValue(feature, entity);
  print(o, latest, () => `${feature}/${entity} = ${JSON.stringify(latest.value)} at ${latest.timestamp}`);
  return EXIT.ok;
};

export const latest: Command = async (store, args, o) => {
  const [feature, entity] = need(args, 2, "latest <feature> <entity>") as [string, string];
  const value = await store.getLatestValue(feature, entity);
  print(o, value, () => table([value as unknown as Row], ["feature_id", "entity_id", "value", "timestamp"]));
  return EXIT.ok;
};

export const online: Command = async (store, args, o) => {
  const entities = need(args, 1, "online <entity>... (--features a,b | --group g)");
  if (!o.features && !o.group) throw new UsageError("fstore online needs --features a,b or --group <feature group>");
  const result = await store.getOnlineFeatures({ entity_ids: entities, ...(o.features ? { features: o.features.split(",") } : { feature_group: o.group }) });
  print(o, result, () =>
    table(
      result.results.map((r) => ({ entity_id: r.entity_id, ...r.values })),
      ["entity_id", ...result.features],
    ),
  );
  return EXIT.ok;
};

async function filesOf(store: FeatureStore, run: Run): Promise<FileProgress | undefined> {
  const files = await store
    .request<{ files: { status: string }[] }>("GET", `/api/v1/runs/${encodeURIComponent(run.id)}/files?limit=10000`)
    .catch(() => undefined);
  if (!files || files.files.length === 0) return undefined;
  return { done: files.files.filter((f) => f.status === "ingested" || f.status === "failed").length, total: files.files.length };
}

/** Starts a run now; unless --no-wait, shows its progress until it finishes and prints the summary. */
export const materialize: Command = async (store, args, o) => {
  const [name] = need(args, 1, "materialize <feature> [--no-wait]") as [string];
  const feature = await store.getFeature(name);
  const started = await store.request<Run>("POST", `/api/v1/features/${encodeURIComponent(name)}/materialize`);
  if (!o.wait) {
    print(o, started, () => `run ${started.id} ${started.status} (fstore runs show ${started.id})`);
    return EXIT.ok;
  }
  // The CLI waits as long as the run takes (Ctrl-C stops waiting, not the run).
  const view = new ProgressView();
  let run = started;
  for (;;) {
    run = await store.getRun(started.id);
    view.update(run, feature.source_type === "file" ? await filesOf(store, run) : undefined);
    if (run.status === "succeeded" || run.status === "failed") break;
    await new Promise((r) => setTimeout(r, 500));
  }
  view.done();
  print(o, run, () => runSummary(run));
  return run.status === "failed" ? EXIT.failed : EXIT.ok;
};

export const runsList: Command = async (store, args, o) => {
  const [feature] = need(args, 1, "runs list <feature> [--limit N]") as [string];
  const runs = await store.listRuns(feature, o.limit ? Number(o.limit) : 20);
  print(o, runs, () => table(runs as unknown as Row[], RUN_COLUMNS));
  return EXIT.ok;
};

export const runsShow: Command = async (store, args, o) => {
  const [id] = need(args, 1, "runs show <run-id>") as [string];
  const run = await store.getRun(id);
  print(o, run, () => record(run as unknown as Row));
  return run.status === "failed" ? EXIT.failed : EXIT.ok;
};

export const connectorsList: Command = async (store, _args, o) => {
  const connectors = await store.listConnectors();
  print(o, connectors, () => table(connectors as unknown as Row[], ["name", "type", "config", "secret_fields", "created_at"]));
  return EXIT.ok;
};

/** `--config file` (JSON/YAML) and/or `--set key=value` pairs (values parsed like push values). */
function connectorConfig(o: Options): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (o.config) {
    const doc = readDocument(o.config);
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new UsageError(`${o.config} must hold one config object (host, port, ...)`);
    Object.assign(config, doc);
  }
  for (const pair of o.set ?? []) {
    const at = pair.indexOf("=");
    if (at < 1) throw new UsageError(`--set takes key=value, got '${pair}'`);
    const key = pair.slice(0, at);
    const value = pair.slice(at + 1);
    // Secrets and names stay text even when they look like numbers.
    config[key] = key === "port" ? parseValue(value) : value;
  }
  if (Object.keys(config).length === 0) throw new UsageError("give the connector's config with --config <file> or --set key=value");
  return config;
}

/** Creates a connector and tests it; a failed test removes it again (exit 5) unless --no-test. */
export const connectorsAdd: Command = async (store, args, o) => {
  const [name] = need(args, 1, "connectors add <name> --type <postgres|mysql|s3|adls> (--config <file> | --set key=value ...)") as [string];
  if (!o.type) throw new UsageError("connectors add needs --type (postgres, mysql, s3 or adls)");
  const created = await store.createConnector(name, o.type, connectorConfig(o));
  if (!o.test) {
    print(o, created, () => `added connector ${name} (${o.type}); not tested`);
    return EXIT.ok;
  }
  const result = await store.testConnector(name);
  if (!result.ok) {
    await store.deleteConnector(name);
    print(o, { ...result, removed: true }, () => `connector ${name} not added: FStore could not connect (${result.kind}): ${result.message}`);
    return EXIT.failed;
  }
  print(o, { ...created, test: result }, () => `added connector ${name} (${o.type}): ${result.message}`);
  return EXIT.ok;
};

export const connectorsTest: Command = async (store, args, o) => {
  const [name] = need(args, 1, "connectors test <name>") as [string];
  const result = await store.testConnector(name);
  print(o, result, () => (result.ok ? `ok: ${result.message} (${result.latency_ms} ms)` : `failed (${result.kind}): ${result.message}`));
  return result.ok ? EXIT.ok : EXIT.failed;
};

export const connectorsDelete: Command = async (store, args, o) => {
  const [name] = need(args, 1, "connectors delete <name>") as [string];
  await store.deleteConnector(name);
  print(o, { deleted: name }, () => `deleted connector ${name}`);
  return EXIT.ok;
};

export const keysList: Command = async (store, _args, o) => {
  const { keys } = await store.request<{ keys: Row[] }>("GET", "/api/v1/keys");
  print(o, keys, () => table(keys, ["id", "name", "scopes", "created_at", "revoked_at"]));
  return EXIT.ok;
};

export const keysCreate: Command = async (store, args, o) => {
  const [name] = need(args, 1, "keys create <name> --scopes read,write,admin") as [string];
  if (!o.scopes) throw new UsageError("keys create needs --scopes, e.g. --scopes read,write");
  const key = await store.request<Row & { key: string }>("POST", "/api/v1/keys", { name, scopes: o.scopes.split(",") });
  print(o, key, () => `${record(key)}\n\nStore the key now: FStore keeps only its hash.`);
  return EXIT.ok;
};

export const keysRevoke: Command = async (store, args, o) => {
  const [id] = need(args, 1, "keys revoke <id>") as [string];
  await store.request("DELETE", `/api/v1/keys/${encodeURIComponent(id)}`);
  print(o, { revoked: id }, () => `revoked key ${id}`);
  return EXIT.ok;
};
