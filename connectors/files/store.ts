/**
 * What the object-store connectors share: fetch with a timeout whose network failures become
 * SourceErrors naming the store, key encoding, and the connection test of any ObjectStore. S3
 * (connectors/s3) and Azure Data Lake (connectors/adls) implement `ObjectStore` (connectors/types.ts)
 * over plain fetch; the file formats in this folder only ever see `ObjectStore`.
 */
import { SourceError, type FailureKind, type ObjectStore, type TestResult } from "../types";

/** Request timeout of one store call, so a hung server fails a run instead of stalling it. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** fetch with a timeout whose network failures become SourceErrors naming the store. */
export async function storeFetch(location: string, doFetch: () => Promise<Response>): Promise<Response> {
  try {
    return await doFetch();
  } catch (err) {
    if (err instanceof SourceError) throw err;
    const message = String((err as Error)?.message ?? err);
    const kind: FailureKind = /timeout|timed out|aborted/i.test(message)
      ? "timeout"
      : /dns|resolve|getaddrinfo|not found|ENOTFOUND/i.test(message)
        ? "dns"
        : /refused|connect|network|lost/i.test(message)
          ? "refused"
          : "unknown";
    const hint = { timeout: "timed out", dns: "the host name could not be resolved", refused: "could not connect (is the endpoint right and the server running?)" }[
      kind as "timeout" | "dns" | "refused"
    ];
    throw new SourceError(kind, `${location}: ${hint ?? "the request failed"}: ${message}`);
  }
}

/** Encodes an object key for a URL path, keeping its slashes. */
export const encodeKey = (key: string) => key.split("/").map(encodeURIComponent).join("/");

/** The connection test of an object store: list one key. */
export async function testStore(store: ObjectStore, server: string): Promise<TestResult> {
  const started = Date.now();
  try {
    await store.probe();
    return { ok: true, message: `listed ${store.location}`, server, latency_ms: Date.now() - started };
  } catch (err) {
    const e = err instanceof SourceError ? err : new SourceError("unknown", String((err as Error)?.message ?? err));
    // No timing on failure: it would tell open ports from closed ones.
    return { ok: false, kind: e.kind, message: e.message };
  }
}
