/**
 * `npm run bench`: runs every benchmark in BENCHMARKS in order, each in a fresh directory under
 * .bench/, and exits non-zero when any of them fails. A benchmark is a module exporting an async
 * function taking { dir } that prints its own figures and throws on failure; add new ones to the
 * list below. Only 127.0.0.1 is contacted. BENCH_KEEP=1 keeps the state and logs of a passing run.
 * BENCH_ONLY=name[,name] runs only those benchmarks, e.g. `BENCH_ONLY=online npm run bench`
 * (benchmarks: ingest, online, lake, materialize, ui, stream).
 */
import { mkdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { ingest } from "./ingest.mjs";
import { materialize } from "./materialize.mjs";
import { lake } from "./lake.mjs";
import { online } from "./online.mjs";
import { stream } from "./stream.mjs";
import { ui } from "./ui.mjs";
import { repoRoot, stopAll, wranglerVersion } from "../scripts/lib/wrangler.mjs";

const ALL_BENCHMARKS = [
  { name: "ingest", run: ingest },
  { name: "online", run: online },
  { name: "lake", run: lake },
  { name: "materialize", run: materialize },
  { name: "ui", run: ui },
  { name: "stream", run: stream },
];
const only = (process.env.BENCH_ONLY ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const unknownOnly = only.filter((name) => !ALL_BENCHMARKS.some((b) => b.name === name));
if (unknownOnly.length > 0) {
  console.error(`BENCH_ONLY: unknown benchmark(s) ${unknownOnly.join(", ")}; known: ${ALL_BENCHMARKS.map((b) => b.name).join(", ")}`);
  process.exit(2);
}
const BENCHMARKS = only.length > 0 ? ALL_BENCHMARKS.filter((b) => only.includes(b.name)) : ALL_BENCHMARKS;

const cpus = os.cpus();
console.log(
  `machine: node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? "unknown"}), ` +
    `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.release()} ${os.arch()}, wrangler ${wranglerVersion()}`,
);

const runDir = path.join(repoRoot, ".bench", `run-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`);
mkdirSync(runDir, { recursive: true });

// CTRL-C and friends: stop the wrangler dev servers (their own process groups get no terminal
// signal), let the running benchmark fail on the dropped connection, and exit 130.
let interrupted = null;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = signal;
    console.error(`\n${signal}: stopping wrangler dev ...`);
    void stopAll();
    setTimeout(() => process.exit(130), 15_000).unref();
  });
}

let failed = 0;
const started = performance.now();
for (const bench of BENCHMARKS) {
  if (interrupted) break;
  console.log(`\n== ${bench.name} ==`);
  const t0 = performance.now();
  try {
    await bench.run({ dir: path.join(runDir, bench.name) });
    console.log(`${bench.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  } catch (err) {
    failed++;
    if (interrupted) console.error(`${bench.name}: interrupted by ${interrupted}`);
    else console.error(`\n${bench.name} FAILED: ${err.stack ?? err}`);
  }
}
await stopAll();
if (interrupted) {
  console.error(`interrupted; state and logs kept in ${path.relative(repoRoot, runDir)}`);
  process.exit(130);
}

console.log(`\nall benchmarks: ${((performance.now() - started) / 1000).toFixed(1)}s`);
if (failed > 0) {
  console.error(`${failed} of ${BENCHMARKS.length} benchmark(s) failed; state and logs kept in ${path.relative(repoRoot, runDir)}`);
  process.exit(1);
}
if (process.env.BENCH_KEEP === "1") console.log(`state and logs kept in ${path.relative(repoRoot, runDir)}`);
else rmSync(runDir, { recursive: true, force: true });
