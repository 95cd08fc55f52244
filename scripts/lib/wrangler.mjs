/**
 * Shared by the benchmarks and the end-to-end tests: run wrangler commands, start `wrangler dev` in its own process
 * group on 127.0.0.1, wait for it to answer, and stop it (and the workerd it spawned) again —
 * also when the benchmark fails or is interrupted.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";

export const HOST = "127.0.0.1";
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const wranglerBin = path.join(repoRoot, "node_modules", "wrangler", "bin", "wrangler.js");

/** The installed wrangler's version (from its package.json). */
export function wranglerVersion() {
  return JSON.parse(readFileSync(path.join(repoRoot, "node_modules", "wrangler", "package.json"), "utf8")).version;
}

/**
 * Environment for wrangler: no telemetry, no colours, and no reload when someone edits the
 * config mid-run (source edits are kept out by running a pre-built bundle, see bundleWorker).
 */
function wranglerEnv() {
  return { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true", NO_COLOR: "1", FORCE_COLOR: "0" };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Last `n` lines of a log file, for error messages. */
export function tail(file, n = 40) {
  try {
    return stripVTControlCharacters(readFileSync(file, "utf8")).split("\n").slice(-n).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Process groups started here and not yet stopped. */
const running = new Set();

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Stops a process group: SIGTERM, then SIGKILL if anything in it is still alive after `graceMs`. */
async function stopGroup(pid, graceMs = 5000) {
  signalGroup(pid, "SIGTERM");
  for (let waited = 0; waited < graceMs && groupAlive(pid); waited += 100) await sleep(100);
  if (groupAlive(pid)) {
    signalGroup(pid, "SIGKILL");
    for (let waited = 0; waited < 2000 && groupAlive(pid); waited += 50) await sleep(50);
  }
  running.delete(pid);
  return !groupAlive(pid);
}

/**
 * Kills a server's whole process group at once with SIGKILL, as a crash or `kill -9` would (no
 * shutdown of any kind), and resolves once nothing of it is left. Crash tests restart a new
 * `wrangler dev` on the same --persist-to state afterwards.
 */
export async function killServer(handle) {
  signalGroup(handle.pid, "SIGKILL");
  for (let waited = 0; waited < 10_000 && groupAlive(handle.pid); waited += 50) await sleep(50);
  await handle.stop(); // closes the log; the group is gone already
  return !groupAlive(handle.pid);
}

/** Stops every process group still running (used on errors and signals). */
export async function stopAll() {
  await Promise.all([...running].map((pid) => stopGroup(pid)));
}

// Last resort: whatever is still running when node exits is killed outright.
process.on("exit", () => {
  for (const pid of running) signalGroup(pid, "SIGKILL");
});

/**
 * Runs `wrangler <args>` to completion (bounded by `timeoutMs`), output appended to `logFile`.
 * Throws, with the end of the log, when it fails.
 */
export async function runWrangler(args, { cwd = repoRoot, logFile, timeoutMs = 120_000 } = {}) {
  const log = createWriteStream(logFile, { flags: "a" });
  log.write(`$ wrangler ${args.join(" ")}\n`);
  const child = spawn(process.execPath, [wranglerBin, ...args], { cwd, env: wranglerEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child.pid);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), timeoutMs);
  const code = await new Promise((resolve) => child.on("close", (c, sig) => resolve(c ?? sig)));
  clearTimeout(timer);
  await stopGroup(child.pid, 1000);
  await new Promise((resolve) => log.end(resolve));
  if (code !== 0) throw new Error(`wrangler ${args.join(" ")} failed (${code}):\n${tail(logFile)}`);
}

/**
 * Bundles the Worker of `config` into `outdir` the way `wrangler deploy` would (`--dry-run`, so
 * nothing is uploaded) and returns the bundle's entry file. Running `wrangler dev --no-bundle` on
 * that snapshot means edits to the sources during a run cannot make wrangler rebuild and reload
 * the Worker in the middle of a measurement.
 */
export async function bundleWorker({ config, outdir, logFile }) {
  await runWrangler(["deploy", "--dry-run", "--outdir", outdir, "--config", config], { logFile });
  const entry = path.join(outdir, "index.js");
  readFileSync(entry); // throws if wrangler put the bundle elsewhere
  return entry;
}

/**
 * Starts `wrangler dev` for `config` (or for the pre-built bundle `script` with that config) on
 * 127.0.0.1:`port` with local state in `persistTo`, in its own process group, output to `logFile`. Returns { url, inspectorPort, stop() }
 * (inspectorPort: the DevTools protocol of the Worker's isolate); stop() kills the whole group
 * (wrangler and its workerd) and resolves to true when nothing of it is left.
 */
export async function startWranglerDev({ config, script, port, persistTo, envFile, logFile, extraArgs = [] }) {
  const inspectorPort = await freePort();
  const args = [
    "dev",
    ...(script ? [script, "--no-bundle"] : []),
    "--config", config,
    "--ip", HOST,
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo,
    "--local",
    "--show-interactive-dev-session=false",
    "--log-level", "log",
    ...(envFile ? ["--env-file", envFile] : []),
    ...extraArgs,
  ];
  const handle = spawnTracked(process.execPath, [wranglerBin, ...args], { cwd: path.dirname(config), env: wranglerEnv(), port, logFile });
  handle.inspectorPort = inspectorPort;
  return handle;
}

/**
 * Starts `node <script> ...args` (a helper service) in its own process group, output to
 * `logFile`, tracked like wrangler dev so stopAll() and signals stop it too. Returns
 * { url, pid, exited, stop() } for a server that will listen on 127.0.0.1:`port`.
 */
export function startNodeService({ script, args = [], port, env = {}, logFile }) {
  return spawnTracked(process.execPath, [script, ...args], { cwd: path.dirname(script), env: { ...process.env, ...env, PORT: String(port) }, port, logFile });
}

/**
 * Spawns `command args` in its own process group with output to `logFile`, tracked so stopAll()
 * and signals stop it. Returns { url, pid, logFile, exited, stop() } for a server on 127.0.0.1:`port`;
 * stop() kills the whole group and resolves to true when nothing of it is left.
 */
function spawnTracked(command, args, { cwd, env, port, logFile }) {
  const log = createWriteStream(logFile, { flags: "a" });
  log.write(`$ ${[path.basename(args[0]), ...args.slice(1)].join(" ")}\n`);
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child.pid);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const handle = {
    url: `http://${HOST}:${port}`,
    pid: child.pid,
    logFile,
    exited: false,
    async stop() {
      const clean = await stopGroup(child.pid);
      await new Promise((resolve) => log.end(resolve));
      return clean;
    },
  };
  child.on("exit", () => {
    handle.exited = true;
  });
  return handle;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Noise of an offline machine: wrangler cannot fetch Request.cf, cron triggers are not run locally. */
const BENIGN = [/Request\.cf/, /workers\.cloudflare\.com/, /Scheduled Workers are not automatically triggered/];

/** Errors, warnings and reloads a server printed, for the report. */
export function logProblems(logFile) {
  let text;
  try {
    text = readFileSync(logFile, "utf8");
  } catch {
    return [];
  }
  return stripVTControlCharacters(text)
    .split("\n")
    .filter((l) => /error|✘|\bwarn|▲|uncaught|exception|reloading/i.test(l) && !BENIGN.some((re) => re.test(l)));
}

/**
 * Runs one Worker from fresh, migrated local state to stopped server; `measure(server)` gets
 * { url, pid, logFile }. With `snapshot`, the Worker is bundled first and wrangler dev serves that
 * bundle, so edits to its sources during the run cannot reload it mid-measurement. Resolves to
 * measure's result plus `problems`, the errors and warnings the server logged.
 */
export async function withServer({ name, config, dir, envFile, snapshot = false }, measure) {
  const persistTo = path.join(dir, `${name}-state`);
  const logFile = path.join(dir, `${name}.log`);
  mkdirSync(persistTo, { recursive: true });
  const script = snapshot ? await bundleWorker({ config, outdir: path.join(dir, `${name}-bundle`), logFile }) : undefined;
  await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config], { logFile });
  const server = await startWranglerDev({ config, script, port: await freePort(), persistTo, envFile, logFile });
  let result;
  try {
    await waitForHttp(server, "/health", { logFile });
    result = await measure(server);
  } catch (err) {
    err.message += `\n--- end of ${logFile} ---\n${tail(logFile, 30)}`;
    throw err;
  } finally {
    const clean = await server.stop();
    if (!clean) console.error(`warning: processes of ${name}'s wrangler dev (group ${server.pid}) survived SIGKILL`);
  }
  return { ...result, problems: logProblems(logFile) };
}

/**
 * Polls `url` until it answers `expectStatus`; gives up after `timeoutMs` or as soon as the server
 * process has exited.
 */
export async function waitForHttp(handle, urlPath, { timeoutMs = 90_000, expectStatus = 200, logFile } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (handle.exited) throw new Error(`wrangler dev exited before ${urlPath} answered:\n${tail(logFile)}`);
    try {
      const res = await fetch(`${handle.url}${urlPath}`, { signal: AbortSignal.timeout(5000) });
      const body = await res.text();
      if (res.status === expectStatus) return;
      last = `${res.status} ${body.slice(0, 300)}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(250);
  }
  throw new Error(`${handle.url}${urlPath} did not answer ${expectStatus} within ${timeoutMs / 1000}s (last: ${last}):\n${tail(logFile)}`);
}
