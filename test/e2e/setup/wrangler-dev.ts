/**
 * vitest globalSetup of the end-to-end project (Node side): one real `wrangler dev` of this
 * Worker — local D1/KV/Queues in a fresh temporary state directory, migrations applied, cron
 * triggerable through `/__scheduled` — shared by the end-to-end tests (Python client, browser).
 * Tests get its URL and admin key with `inject("e2eUrl")` / `inject("e2eAdminKey")`. The static
 * assets (/docs' script) and the package (dist/sdk: SDK and CLI) are built first, so the tests
 * exercise the current sources.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { buildAssets, buildSdk } from "../../../scripts/build.mjs";
import { freePort, logProblems, repoRoot, runWrangler, startWranglerDev, tail, waitForHttp } from "../../../scripts/lib/wrangler.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    e2eUrl: string;
    e2eAdminKey: string;
    e2eLogFile: string;
  }
}

export default async function setup(project: TestProject) {
  buildAssets();
  buildSdk();
  const dir = mkdtempSync(path.join(tmpdir(), "fstore-e2e-"));
  const persistTo = path.join(dir, "state");
  const logFile = path.join(dir, "wrangler-dev.log");
  const envFile = path.join(dir, ".dev.vars");
  const adminKey = `fsk_e2e_${randomBytes(24).toString("base64url")}`;
  writeFileSync(envFile, `FSTORE_EGRESS_ALLOW=loopback\nFSTORE_ADMIN_KEY=${adminKey}\nFSTORE_SECRET_KEY=${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
  const config = path.join(repoRoot, "wrangler.toml");
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config], { logFile });
  const server = await startWranglerDev({ config, port: await freePort(), persistTo, envFile, logFile, extraArgs: ["--test-scheduled"] });
  try {
    await waitForHttp(server, "/health", { logFile });
  } catch (err) {
    await server.stop();
    throw err;
  }
  project.provide("e2eUrl", server.url);
  project.provide("e2eAdminKey", adminKey);
  project.provide("e2eLogFile", logFile);
  return async () => {
    await server.stop();
    const problems = logProblems(logFile).filter((l) => /uncaught|exception/i.test(l));
    if (problems.length > 0) console.error(`wrangler dev (e2e) logged:\n${problems.join("\n")}\n--- tail ---\n${tail(logFile, 20)}`);
    rmSync(dir, { recursive: true, force: true });
  };
}
