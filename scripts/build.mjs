#!/usr/bin/env node
/**
 * `npm run build` (also run by `npm install` / `npm ci` through `prepare`):
 * - static assets: copies the browser files FStore serves from npm packages into public/vendor/
 *   (generated, not committed), served by Workers Static Assets (wrangler.toml `[assets]`);
 * - the package: compiles the SDK and the CLI to dist/sdk with their types (tsconfig.sdk.json), and
 *   the stream bridges the SDK loads on demand to dist/sdk/bridges (tsconfig.bridges.json).
 * `--assets` or `--sdk` does one of the two.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** npm files served as they are: [file under node_modules, path under public/vendor]. */
const VENDOR_FILES = [
  // The API reference at /docs (src/docs-page.ts): Scalar's single-file browser bundle.
  ["@scalar/api-reference/dist/browser/standalone.js", "scalar/standalone.js"],
];

export function buildAssets() {
  const vendor = path.join(root, "public", "vendor");
  rmSync(vendor, { recursive: true, force: true });
  for (const [from, to] of VENDOR_FILES) {
    const target = path.join(vendor, to);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(path.join(root, "node_modules", from), target);
  }
}

export function buildSdk() {
  rmSync(path.join(root, "dist", "sdk"), { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(root, "tsconfig.sdk.json")], {
    cwd: root,
    encoding: "utf8",
  });
  if (tsc.status !== 0) throw new Error(`building the SDK (tsc -p tsconfig.sdk.json) failed:\n${tsc.stdout}${tsc.stderr}`);
  // The package's bin: executable, so `npx fstore` works in this repository after a rebuild too
  // (the Python client's start_streaming_feature runs `npx --no-install fstore stream`).
  chmodSync(path.join(root, "dist", "sdk", "cli", "main.js"), 0o755);
  // The stream bridge, which the SDK loads on demand (src/sdk/streaming.ts) as dist/sdk/bridges.
  const bridges = spawnSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(root, "tsconfig.bridges.json")], {
    cwd: root,
    encoding: "utf8",
  });
  if (bridges.status !== 0) throw new Error(`building the stream bridges (tsc -p tsconfig.bridges.json) failed:\n${bridges.stdout}${bridges.stderr}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.argv.slice(2);
  try {
    if (only.length === 0 || only.includes("--assets")) buildAssets();
    if (only.length === 0 || only.includes("--sdk")) buildSdk();
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
