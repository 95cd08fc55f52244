/**
 * What a data-lake connector gives the file reader: an object store that lists keys page by page,
 * and reads byte ranges of one object version. S3 (connectors/s3) and Azure Data Lake
 * (connectors/adls) implement it over plain fetch; the formats in this folder only ever see
 * `ObjectStore`, so a new store is a folder with one class.
 */
import type { z } from "zod";
import { SourceError, type Connector, type FailureKind, type PullBatch } from "../types";

export interface ObjectInfo {
  key: string;
  /** The store's entity tag of this version of the object, quotes included as the store sends it. */
  etag: string;
  size: number;
}

export interface ObjectStore {
  /** `s3://bucket` or `abfs://container@account`: how errors and run records name the store. */
  readonly location: string;
  /** Every object whose key starts with `prefix`, in key order, one listing page at a time. */
  list(prefix: string): AsyncGenerator<ObjectInfo[]>;
  /** Bytes [start, end) of `key`. With `etag`, a changed object fails (412) instead of mixing versions. */
  read(key: string, start: number, end: number, etag?: string): Promise<Uint8Array>;
  /** Lists at most one key: proves the credentials and the bucket/container. */
  probe(): Promise<void>;
}

/** A connector whose source is files: it opens an ObjectStore instead of running queries. */
export interface LakeConnector<Schema extends z.ZodObject = z.ZodObject> extends Connector<Schema> {
  kind: "lake";
  open(config: z.infer<Schema>): ObjectStore;
}

export function isLakeConnector(c: Connector): c is LakeConnector {
  return (c as Partial<LakeConnector>).kind === "lake";
}

/** `pull` of a lake connector: features on it are file features (path + format), never SQL. */
export async function* noQueries(type: string): AsyncGenerator<PullBatch> {
  yield* [];
  throw new SourceError("query", `a ${type} connector reads files: register the feature with 'path' and 'format' (or 'batch_config'), not a 'query'`);
}

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
