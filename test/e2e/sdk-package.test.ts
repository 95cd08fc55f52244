/**
 * The package a user installs: `npm pack` of this repository, installed into a fresh project in a
 * temporary folder, then used there as a user would — the README's snippet run twice with plain
 * `node` (TypeScript, type stripping), its types checked by tsc, and `npx fstore` from the bin.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { adminKey, printed, repoRoot, run, url } from "./helpers";

const project = mkdtempSync(path.join(tmpdir(), "fstore-user-project-"));
const npm = (args: string[], cwd = project) => run("npm", args, { cwd });
const env = { FSTORE_URL: url, FSTORE_KEY: adminKey };

// The README's "From TypeScript" snippet, as a user saves it in their project.
const README_SNIPPET = `import { FeatureStore } from "fstore";

const store = new FeatureStore(); // http://localhost:8000, key from FSTORE_KEY
await store.createFeature({ name: "customer_purchase_amount", entity_id: "customer" });
await store.sendFeatureValue("customer_purchase_amount", "customer_123", 99.99);
const online = await store.getOnlineFeatures({ features: ["customer_purchase_amount"], entity_ids: ["customer_123"] });
console.log(JSON.stringify(online.results[0].values));
`;

describe("the installed fstore package", () => {
  beforeAll(async () => {
    const packed = await npm(["pack", "--json", "--pack-destination", project], repoRoot);
    expect(packed.code, printed(packed)).toBe(0);
    const [{ filename, files }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[")));
    const paths = files.map((f: { path: string }) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining(["dist/sdk/index.js", "dist/sdk/index.d.ts", "dist/sdk/connectors.js", "dist/sdk/cli/main.js", "dist/sdk/bridges/streams/bridge.js", "dist/sdk/bridges/kafka/bridge.js", "package.json"]),
    );
    expect(paths.filter((p: string) => p.startsWith("src/") || p.startsWith("test/"))).toEqual([]);
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "user-project", private: true, type: "module" }));
    const installed = await npm(["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(project, filename)]);
    expect(installed.code, printed(installed)).toBe(0);
  }, 300_000);

  it("runs the README's snippet with plain node, twice (no 409 the second time)", async () => {
    writeFileSync(path.join(project, "snippet.ts"), README_SNIPPET);
    for (const attempt of [1, 2]) {
      const ran = await run(process.execPath, ["snippet.ts"], { cwd: project, env });
      expect(ran.code, `attempt ${attempt}: ${printed(ran)}`).toBe(0);
      expect(JSON.parse(ran.stdout)).toEqual({ customer_purchase_amount: 99.99 });
    }
  });

  it("imports the connector classes and type-checks against the package's declarations", async () => {
    writeFileSync(
      path.join(project, "typed.ts"),
      `import { FeatureStore, FStoreError, type Feature, type Run } from "fstore";
import { PostgreSQLConnector, S3Connector } from "fstore/connectors";

const store = new FeatureStore({ url: process.env.FSTORE_URL });
const pg = new PostgreSQLConnector({ host: "localhost", port: 5432, database: "mydb", user: "user", password: "password" });
const s3 = new S3Connector({ bucket: "b", aws_access_key_id: "k", aws_secret_access_key: "s" }, { name: "my_s3" });
const feature: Feature = await store.getFeature("customer_purchase_amount");
const error = await store.getFeature("no_such_feature").catch((e: unknown) => e);
const runs: Run[] = await store.listRuns(feature.name);
console.log(pg.name, s3.name, feature.value_type, error instanceof FStoreError && error.code, runs.length);
`,
    );
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: ["node"] }, include: ["*.ts"] }),
    );
    // The user's tsc would be their own; this repository's typescript and @types/node stand in for it.
    const checked = await run(process.execPath, [path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", project, "--typeRoots", path.join(repoRoot, "node_modules", "@types")], { cwd: project });
    expect(checked.code, printed(checked)).toBe(0);
    const ran = await run(process.execPath, ["typed.ts"], { cwd: project, env });
    expect(ran.code, printed(ran)).toBe(0);
    expect(ran.stdout.trim()).toMatch(/^postgres_ec2076c0 my_s3 float FEATURE_NOT_FOUND 0$/);
  });

  it("runs the CLI with npx fstore", async () => {
    const listed = await run("npx", ["--no-install", "fstore", "features", "list", "--json"], { cwd: project, env });
    expect(listed.code, printed(listed)).toBe(0);
    expect(JSON.parse(listed.stdout).map((f: { name: string }) => f.name)).toContain("customer_purchase_amount");
    const version = await run("npx", ["--no-install", "fstore", "--version"], { cwd: project });
    expect(version.stdout.trim()).toBe("0.1.0");
  });
});
