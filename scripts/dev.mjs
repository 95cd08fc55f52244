#!/usr/bin/env node
/**
 * `npm run dev`: FStore locally with no Cloudflare account. Creates `.dev.vars` with a generated
 * admin key (and connector-secret key) when missing, applies the D1 migrations to the local
 * database, copies the browser assets into public/vendor/ (the /docs script), then runs
 * `wrangler dev` on http://localhost:8000 (the guide's URL; PORT overrides).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildAssets } from "./build.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const varsPath = join(root, ".dev.vars");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const port = process.env.PORT ?? "8000";

function ensureDevVars() {
  const existing = existsSync(varsPath) ? readFileSync(varsPath, "utf8") : "";
  const missing = [];
  if (!/^FSTORE_ADMIN_KEY=/m.test(existing)) missing.push(`FSTORE_ADMIN_KEY=fsk_dev_${randomBytes(24).toString("base64url")}`);
  if (!/^FSTORE_SECRET_KEY=/m.test(existing)) missing.push(`FSTORE_SECRET_KEY=${randomBytes(32).toString("base64url")}`);
  // Local sources (PostgreSQL, s3rver, Azurite, the pgproxy) are on this machine; production refuses loopback (docs/connectors.md#egress-policy).
  if (!/^FSTORE_EGRESS_ALLOW=/m.test(existing)) missing.push("FSTORE_EGRESS_ALLOW=loopback");
  if (missing.length > 0) {
    const prefix = existing && !existing.endsWith("\n") ? "\n" : "";
    writeFileSync(varsPath, `${existing}${prefix}${missing.join("\n")}\n`, { mode: 0o600 });
    console.log(`Wrote ${missing.map((m) => m.split("=")[0]).join(", ")} to ${varsPath}`);
  }
  console.log(`Dev admin key: FSTORE_ADMIN_KEY in ${varsPath}. Use it with:`);
  console.log(`  export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)`);
  console.log(`  curl -H "Authorization: Bearer $FSTORE_KEY" http://localhost:${port}/api/v1/features\n`);
}

function applyMigrations() {
  const result = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], { cwd: root, stdio: "inherit", env: { ...process.env, CI: "true" } });
  if (result.status !== 0) {
    console.error("Applying the D1 migrations to the local database failed.");
    process.exit(result.status ?? 1);
  }
}

ensureDevVars();
applyMigrations();
buildAssets();
const dev = spawn(wrangler, ["dev", "--port", port, "--test-scheduled", ...process.argv.slice(2)], { cwd: root, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
