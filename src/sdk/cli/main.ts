#!/usr/bin/env node
/**
 * `npx fstore …`: the command line for a running FStore (the package's `bin`). Reads FSTORE_URL
 * and FSTORE_KEY like the SDK; prints tables, or JSON with --json; exits with a code that says
 * what happened (docs/cli.md).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { FeatureStore, FStoreError } from "../client.ts";
import * as c from "./commands.ts";

const HELP = `fstore — command line for FStore (FSTORE_URL, FSTORE_KEY)

  fstore features list [--group G] [--entity E] [--source push|sql|file|stream]
  fstore features get <name>
  fstore features create <file.json|file.yaml|->     one definition, a list, or {features: [...]}
  fstore features delete <name>
  fstore push <feature> <entity> <value> [--timestamp T]
  fstore latest <feature> <entity>
  fstore online <entity>... (--features a,b | --group G)
  fstore materialize <feature> [--no-wait]           live progress, then the run's summary
  fstore runs list <feature> [--limit N]
  fstore runs show <run-id>
  fstore connectors list
  fstore connectors add <name> --type postgres|mysql|s3|adls (--config FILE | --set key=value ...) [--no-test]
  fstore connectors test <name>
  fstore connectors delete <name>
  fstore stream                                      run the Kafka/Pulsar bridge until Ctrl-C (docs/bridges.md)
  fstore keys list
  fstore keys create <name> --scopes read,write,admin
  fstore keys revoke <id>

Options: --url URL (default FSTORE_URL or http://localhost:8000), --key KEY (default FSTORE_KEY),
         --json (machine-readable output), --help, --version
Exit codes: 0 ok, 1 FStore refused the request, 2 usage error, 3 FStore unreachable,
            4 missing or insufficient key, 5 a run or connection test failed`;

const COMMANDS: Record<string, c.Command> = {
  "features list": c.featuresList,
  "features get": c.featuresGet,
  "features create": c.featuresCreate,
  "features delete": c.featuresDelete,
  push: c.push,
  latest: c.latest,
  online: c.online,
  materialize: c.materialize,
  "runs list": c.runsList,
  "runs show": c.runsShow,
  "connectors list": c.connectorsList,
  "connectors add": c.connectorsAdd,
  "connectors test": c.connectorsTest,
  "connectors delete": c.connectorsDelete,
  "keys list": c.keysList,
  "keys create": c.keysCreate,
  "keys revoke": c.keysRevoke,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      key: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      version: { type: "boolean", default: false },
      group: { type: "string" },
      entity: { type: "string" },
      source: { type: "string" },
      features: { type: "string" },
      timestamp: { type: "string" },
      type: { type: "string" },
      config: { type: "string" },
      set: { type: "string", multiple: true },
      scopes: { type: "string" },
      limit: { type: "string" },
      "no-wait": { type: "boolean", default: false },
      "no-test": { type: "boolean", default: false },
    },
  });
  if (values.version) {
    console.log(version());
    return c.EXIT.ok;
  }
  if (values.help || positionals.length === 0) {
    console.log(HELP);
    return values.help ? c.EXIT.ok : c.EXIT.usage;
  }
  const two = positionals.slice(0, 2).join(" ");
  if (positionals[0] === "stream") {
    // The stream bridge reads FSTORE_URL / FSTORE_KEY (and connector secrets) from the environment.
    if (values.url) process.env.FSTORE_URL = values.url;
    if (values.key) process.env.FSTORE_KEY = values.key;
    const { loadBridgeMain } = await import("../streaming.ts");
    await (await loadBridgeMain()).runFromEnv();
    return Number(process.exitCode ?? 0);
  }
  const [name, args] = COMMANDS[two] ? [two, positionals.slice(2)] : [positionals[0] as string, positionals.slice(1)];
  const command = COMMANDS[name];
  if (!command) throw new c.UsageError(`unknown command '${positionals.join(" ")}'; see fstore --help`);
  const store = new FeatureStore({ url: values.url, apiKey: values.key });
  return command(store, args, { ...values, wait: !values["no-wait"], test: !values["no-test"] });
}

function exitCodeOf(err: unknown): number {
  if (err instanceof c.UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) return c.EXIT.usage;
  if (err instanceof FStoreError) {
    if (err.code === "UNREACHABLE") return c.EXIT.unreachable;
    if (err.status === 401 || err.status === 403) return c.EXIT.auth;
    if (err.code === "RUN_FAILED" || err.code === "CONNECTOR_TEST_FAILED") return c.EXIT.failed;
    return c.EXIT.api;
  }
  return c.EXIT.api;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  const code = err instanceof FStoreError ? ` [${err.code}]` : "";
  console.error(`fstore: ${(err as Error).message}${code}`);
  process.exitCode = exitCodeOf(err);
}
