/**
 * The CLI (`fstore`, the package's bin: dist/sdk/cli/main.js) against the e2e wrangler dev:
 * human tables by default, --json for scripts, exit codes that mean something, and a materialize
 * that shows the run's progress (a bar redrawn on a terminal) and its final summary.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GUIDE_BUCKET } from "../../scripts/lib/guide-samples.mjs";
import { adminKey, clientEnv, printed, repoRoot, run, url } from "./helpers";

const bin = path.join(repoRoot, "dist", "sdk", "cli", "main.js");
const env = { FSTORE_URL: url, FSTORE_KEY: adminKey };
const fstore = (args: string[], extra: Record<string, string> = {}) => run(process.execPath, [bin, ...args], { env: { ...env, ...extra } });
const dir = mkdtempSync(path.join(tmpdir(), "fstore-cli-"));

describe("fstore CLI", () => {
  it("creates features from a YAML file, lists them as a table and as JSON", async () => {
    const file = path.join(dir, "features.yaml");
    writeFileSync(file, "features:\n  - name: cli_amount\n    entity_id: customer\n    feature_group: cli_customers\n  - name: cli_visits\n    entity_id: customer\n    feature_group: cli_customers\n    value_type: int\n");
    const created = await fstore(["features", "create", file]);
    expect(created.code, printed(created)).toBe(0);
    expect(created.stdout).toMatch(/^NAME\s+ENTITY_ID\s+FEATURE_GROUP/m);
    // Running it again is fine: the definitions already hold.
    expect((await fstore(["features", "create", file])).code).toBe(0);

    const table = await fstore(["features", "list", "--group", "cli_customers"]);
    expect(table.stdout.split("\n").filter((l) => l.startsWith("cli_")).map((l) => l.split(/\s+/)[0])).toEqual(["cli_amount", "cli_visits"]);
    const json = await fstore(["features", "list", "--group", "cli_customers", "--json"]);
    expect(JSON.parse(json.stdout).map((f: { name: string }) => f.name)).toEqual(["cli_amount", "cli_visits"]);
  });

  it("pushes values and reads them back, latest and online", async () => {
    const pushed = await fstore(["push", "cli_amount", "customer_1", "99.99", "--timestamp", "2024-02-20T22:39:38.123456"]);
    expect(pushed.code, printed(pushed)).toBe(0);
    expect(pushed.stdout).toContain("cli_amount/customer_1 = 99.99 at 2024-02-20T22:39:38.123456Z");
    await fstore(["push", "cli_visits", "customer_1", "7"]);
    const latest = await fstore(["latest", "cli_amount", "customer_1", "--json"]);
    expect(JSON.parse(latest.stdout)).toMatchObject({ value: 99.99, timestamp: "2024-02-20T22:39:38.123456Z" });
    const online = await fstore(["online", "customer_1", "customer_2", "--group", "cli_customers"]);
    expect(online.stdout).toMatch(/^ENTITY_ID\s+CLI_AMOUNT\s+CLI_VISITS$/m);
    expect(online.stdout).toMatch(/^customer_1\s+99\.99\s+7$/m);
    expect(online.stdout).toMatch(/^customer_2\s+-\s+-$/m);
  });

  it("adds, tests and lists connectors; a connector FStore cannot reach is not kept", async () => {
    const s3 = clientEnv();
    const added = await fstore(["connectors", "add", "cli_s3", "--type", "s3", "--set", `bucket=${GUIDE_BUCKET}`, "--set", "aws_access_key_id=S3RVER", "--set", "aws_secret_access_key=S3RVER", "--set", `endpoint=${s3.AWS_ENDPOINT_URL}`]);
    expect(added.code, printed(added)).toBe(0);
    expect((await fstore(["connectors", "test", "cli_s3"])).code).toBe(0);
    const listed = await fstore(["connectors", "list", "--json"]);
    const mine = JSON.parse(listed.stdout).find((c: { name: string }) => c.name === "cli_s3");
    expect(mine.secret_fields).toContain("aws_secret_access_key");
    expect(listed.stdout).not.toContain('"aws_secret_access_key": "S3RVER"');

    const bad = await fstore(["connectors", "add", "cli_bad", "--type", "s3", "--set", "bucket=x", "--set", "aws_access_key_id=S3RVER", "--set", "aws_secret_access_key=S3RVER", "--set", "endpoint=http://127.0.0.1:1"]);
    expect(bad.code, printed(bad)).toBe(5);
    expect(bad.stdout).toContain("not added");
    expect((await fstore(["connectors", "test", "cli_bad"])).code).toBe(1);
  });

  it("materializes with a live progress bar on a terminal and prints the run's summary", async () => {
    const def = path.join(dir, "lake.json");
    writeFileSync(def, JSON.stringify({ name: "cli_clv", entity_id: "customer", connector: "cli_s3", path: "customer_transactions/*.parquet" }));
    expect((await fstore(["features", "create", def])).code).toBe(0);
    // `script` gives the CLI a pseudo-terminal, as a person running it has.
    const shown = await run("script", ["-qefc", `${process.execPath} ${bin} materialize cli_clv`, "/dev/null"], { env });
    expect(shown.code, printed(shown)).toBe(0);
    expect(shown.stdout).toMatch(/\r\[[#-]{24}\] (queued|running|succeeded)\s+\d+ rows read/);
    expect(shown.stdout).toMatch(/run \S+ succeeded, 20 rows read, \d+ written/);

    const plain = await fstore(["materialize", "cli_clv", "--json"]);
    expect(plain.code, printed(plain)).toBe(0);
    expect(plain.stderr).toMatch(/run \S+ (queued|running|succeeded): \d+ rows read/);
    const finished = JSON.parse(plain.stdout);
    // The file was ingested by the first run: this one skips it (same ETag).
    expect(finished).toMatchObject({ status: "succeeded", rows_read: 0 });

    const runs = await fstore(["runs", "list", "cli_clv"]);
    expect(runs.stdout.split("\n").filter((l) => /succeeded/.test(l))).toHaveLength(2);
    expect((await fstore(["runs", "show", finished.id])).stdout).toMatch(/^status:\s+succeeded$/m);
  });

  it("creates, lists and revokes API keys; the key is shown once", async () => {
    const created = await fstore(["keys", "create", "cli-reader", "--scopes", "read", "--json"]);
    expect(created.code, printed(created)).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key.key).toMatch(/\S{20,}/);
    const asReader = await fstore(["features", "list"], { FSTORE_KEY: key.key });
    expect(asReader.code).toBe(0);
    const denied = await fstore(["features", "delete", "cli_visits"], { FSTORE_KEY: key.key });
    expect(denied.code, printed(denied)).toBe(4);
    const listed = await fstore(["keys", "list"]);
    expect(listed.stdout).toContain("cli-reader");
    expect(listed.stdout).not.toContain(key.key);
    expect((await fstore(["keys", "revoke", key.id])).code).toBe(0);
    expect((await fstore(["features", "list"], { FSTORE_KEY: key.key })).code).toBe(4);
  });

  it("exits 1 when FStore refuses, 2 on usage errors, 3 when FStore is unreachable", async () => {
    const missing = await fstore(["features", "get", "cli_no_such_feature"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("[FEATURE_NOT_FOUND]");
    expect((await fstore(["features", "frobnicate"])).code).toBe(2);
    expect((await fstore(["push", "cli_amount"])).code).toBe(2);
    expect((await fstore(["--bogus-flag"])).code).toBe(2);
    const down = await fstore(["features", "list"], { FSTORE_URL: "http://127.0.0.1:1" });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain("npm run dev");
    const deleted = await fstore(["features", "delete", "cli_visits"]);
    expect(deleted.code).toBe(0);
  });
});
