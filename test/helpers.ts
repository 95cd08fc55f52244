/** Talking to the Worker over HTTP the way a client does. */
import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";

export const ADMIN_KEY = env.FSTORE_ADMIN_KEY;
const BASE = "http://fstore.test";

export interface CallOptions {
  body?: unknown;
  /** Raw body text, sent as is. */
  raw?: string;
  /** API key; `null` sends no Authorization header. */
  key?: string | null;
  headers?: Record<string, string>;
}

export async function call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  const key = opts.key === undefined ? ADMIN_KEY : opts.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !("content-type" in headers)) headers["content-type"] = "application/json";
  return exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
}

/** Calls and parses the JSON body, failing loudly if the status is not the expected one. */
export async function callJson<T = any>(method: string, path: string, status: number, opts: CallOptions = {}): Promise<T> {
  const res = await call(method, path, opts);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

export async function registerFeature(def: Record<string, unknown>) {
  return callJson("POST", "/api/v1/features", 201, { body: def });
}

export async function createKey(scopes: string[]): Promise<string> {
  const created = await callJson<{ key: string }>("POST", "/api/v1/keys", 201, { body: { name: `key-${scopes.join("-")}`, scopes } });
  return created.key;
}

/** Polls a run queued with POST .../materialize (202) through GET /api/v1/runs/{id} until it has finished. */
export async function waitForRun<T extends { status: string } = any>(runId: string, timeoutMs = 170_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await callJson<T>("GET", `/api/v1/runs/${runId}`, 200);
    if (run.status === "succeeded" || run.status === "failed") return run;
    // A guard against hangs, not a performance assertion.
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
