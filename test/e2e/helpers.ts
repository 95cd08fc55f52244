/**
 * Shared by the end-to-end tests: run a command (a Python or TypeScript example, the CLI, pytest)
 * to completion, and the environment that points clients at the e2e wrangler dev and at the
 * guide's local sources (SQL seeded by test/setup/sql-services.ts, lake by guide-sources.ts).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { inject } from "vitest";
import { S3RVER_KEY, AZURITE_ACCOUNT } from "../../scripts/lake-servers.mjs";

export const repoRoot = path.resolve(import.meta.dirname, "..", "..");
export const url = inject("e2eUrl");
export const adminKey = inject("e2eAdminKey");

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` with `env` added to this process's; never rejects on a non-zero exit. */
export function run(command: string, args: string[], { env = {}, cwd = repoRoot, input }: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** What a failed command printed, for an assertion message. */
export const printed = (r: Ran) => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

/** FStore's URL and key, and the guide's local sources, as the examples' headers name them. */
export function clientEnv(): Record<string, string> {
  const database = inject("sqlDatabase");
  return {
    FSTORE_URL: url,
    FSTORE_KEY: adminKey,
    PYTHONPATH: path.join(repoRoot, "clients", "python"),
    PGDATABASE: database,
    PGUSER: "postgres",
    PGPASSWORD: "",
    MYSQL_DATABASE: database,
    MYSQL_USER: "root",
    MYSQL_PASSWORD: "",
    AWS_ENDPOINT_URL: inject("guideS3Endpoint"),
    AWS_ACCESS_KEY_ID: S3RVER_KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_KEY.secretAccessKey,
    AZURE_STORAGE_ACCOUNT: AZURITE_ACCOUNT,
    AZURE_BLOB_ENDPOINT: inject("guideAzureEndpoint"),
    AZURE_SAS_TOKEN: inject("guideAzureSas"),
  };
}

/** One REST call with the admin key; the parsed body. */
export async function api<T = any>(method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}
