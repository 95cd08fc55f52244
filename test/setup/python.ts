/**
 * Which python3 the tests run the Python client and examples with: FSTORE_PYTHON, else Debian's
 * /usr/bin/python3 (scripts/services.sh installs python3-requests and python3-pytest for it), else
 * `python3` on PATH. The tests fail rather than skip when it cannot import requests and pytest.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export function pythonCommand(): string {
  return process.env.FSTORE_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
}

/** Why the Python tests cannot run, or null when they can. */
export function pythonProblem(): string | null {
  const python = pythonCommand();
  const check = spawnSync(python, ["-c", "import requests, pytest"], { encoding: "utf8", timeout: 30_000 });
  if (check.error) return `${python} (not found: ${check.error.message})`;
  if (check.status !== 0) return `requests and pytest for ${python} (${check.stderr.trim().split("\n").at(-1)}; Debian: apt-get install python3-requests python3-pytest)`;
  return null;
}
