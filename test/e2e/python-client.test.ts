/**
 * The Python client's own test suite (clients/python/tests, pytest) against the e2e wrangler dev
 * and the seeded sources. It fails — never skips — when python3, requests or pytest is missing,
 * and a failing pytest fails this test with pytest's output.
 */
import { expect, it } from "vitest";
import { pythonCommand, pythonProblem } from "../setup/python";
import { clientEnv, printed, run } from "./helpers";

it("passes the Python client's pytest suite against the real server", async () => {
  expect(pythonProblem(), "the Python tests need python3 with requests and pytest: bash scripts/services.sh").toBeNull();
  const ran = await run(pythonCommand(), ["-m", "pytest", "clients/python/tests", "-q", "-rfEs", "-p", "no:cacheprovider"], { env: clientEnv() });
  console.log(`pytest: ${ran.stdout.trim().split("\n").at(-1)}`);
  expect(ran.code, printed(ran)).toBe(0);
  // pytest's summary: something passed, nothing was skipped.
  expect(ran.stdout, printed(ran)).toMatch(/\d+ passed/);
  expect(ran.stdout, printed(ran)).not.toMatch(/skipped/);
}, 300_000);
