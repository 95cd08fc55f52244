/**
 * vitest globalSetup, first of both projects: makes sure the local services and tools the tests
 * use are there before anything else starts — PostgreSQL (with the fstore_reader role) and MariaDB
 * for every run; Chromium, python3 with requests and pytest, and kcat (librdkafka's mock Kafka
 * cluster) for the end-to-end project. As root on
 * Debian it runs `bash scripts/services.sh`, which installs and starts what is missing; otherwise
 * it stops the run at once naming what is missing and the command that fixes it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { pythonProblem, pythonCommand } from "./python";

const root = path.resolve(import.meta.dirname, "..", "..");

function ok(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 20_000, env: { ...process.env, PGCONNECT_TIMEOUT: "5" } });
  return result.status === 0 && !result.error;
}

function problems(e2e: boolean): string[] {
  const found: string[] = [];
  const role = spawnSync("psql", ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres", "-Atc", "SELECT 1 FROM pg_roles WHERE rolname = 'fstore_reader'"], {
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, PGCONNECT_TIMEOUT: "5" },
  });
  if (role.error || role.status !== 0) found.push(`PostgreSQL on 127.0.0.1:5432 (${(role.error?.message ?? role.stderr).trim().split("\n")[0]})`);
  else if (role.stdout.trim() !== "1") found.push("the PostgreSQL role fstore_reader (the connector tests log in with it)");
  if (!ok("mysqladmin", ["-h", "127.0.0.1", "-P", "3306", "-uroot", "--connect-timeout=5", "ping"])) found.push("MariaDB on 127.0.0.1:3306 (root, empty password)");
  if (e2e) {
    if (!existsSync("/usr/bin/chromium")) found.push("Chromium at /usr/bin/chromium (the /docs browser test)");
    if (!ok("kcat", ["-V"])) found.push("kcat (hosts librdkafka's mock Kafka cluster for the stream bridge tests)");
    const python = pythonProblem();
    if (python) found.push(python);
  }
  return found;
}

export default function setup(project: TestProject) {
  const e2e = project.name === "e2e";
  let missing = problems(e2e);
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  let ran = false;
  if (isRoot && existsSync("/etc/debian_version")) {
    console.log(`test services: missing ${missing.join("; ")}; running bash scripts/services.sh`);
    ran = spawnSync("bash", [path.join(root, "scripts", "services.sh")], { stdio: "inherit", timeout: 15 * 60_000 }).status === 0;
    missing = ran ? problems(e2e) : missing;
  }
  if (missing.length > 0) {
    const message =
      `The tests need local services that are not there: ${missing.join("; ")}.\n` +
      (ran ? "scripts/services.sh ran but did not provide them; see its output above.\n" : "") +
      `Fix: ${isRoot ? "" : "sudo "}bash scripts/services.sh   (installs with apt on Debian and starts them)` +
      (e2e ? `\nPython used: ${pythonCommand()} (FSTORE_PYTHON picks another)` : "");
    // vitest reports a failed global setup as "No test files found" first: say what is wrong before that.
    console.error(`\n${message}\n`);
    throw new Error(message);
  }
}
