/**
 * The S3 connector against s3rver, over HTTP against the Worker: the guide's config, secrets
 * never returned, SigV4 signatures (checked here by an independent implementation, since s3rver
 * only checks the access key id), globs, listing past 1,000 keys, ETag skip and pick-up of new and
 * changed files, a large file continued across invocations through the jobs queue, a corrupt
 * file failing only itself, wrong credentials, a missing bucket, and the cron schedule.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { AwsClient } from "aws4fetch";
import { beforeAll, describe, expect, it } from "vitest";
import { S3Store } from "../connectors/s3";
import worker from "../src/index";
import { call, callJson, registerFeature } from "./helpers";
import {
  BUCKET,
  CORRUPT_BAD,
  CORRUPT_GOOD,
  CORRUPT_ROWS,
  fixtureRow,
  GLOB_FILES,
  globEntity,
  isoOf,
  LARGE_FILES,
  LARGE_ROWS,
  MANY_FILES,
  manyKey,
  TEST_ROWS_PER_INVOCATION,
} from "./lake-fixtures";
import { createConnector, ingest, latest, materialize, runFiles, s3Config, waitForRun, type Run } from "./lake-helpers";

const S3 = "lake_s3";

beforeAll(async () => {
  await createConnector(S3, "s3", s3Config());
});

const writer = new AwsClient({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER", service: "s3", region: "us-east-1" });
async function put(key: string, body: string) {
  const res = await writer.fetch(`${env.TEST_S3_ENDPOINT}/${BUCKET}/${key}`, { method: "PUT", body });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

// --- SigV4, computed independently of aws4fetch (AWS Signature Version 4 documentation) -----
const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
async function hmac(key: ArrayBuffer | Uint8Array, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, new TextEncoder().encode(data));
}
async function expectedSignature(req: Request, secret: string, region: string): Promise<string> {
  const url = new URL(req.url);
  const auth = req.headers.get("authorization") as string;
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(";") ?? [];
  const amzDate = req.headers.get("x-amz-date") as string;
  const path = url.pathname
    .split("/")
    .map((seg) => rfc3986(decodeURIComponent(seg)))
    .join("/");
  const query = [...url.searchParams]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort(([a, x], [b, y]) => (a === b ? (x! < y! ? -1 : 1) : a! < b! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const headers = signedHeaders.map((h) => `${h}:${(h === "host" ? url.host : (req.headers.get(h) ?? "")).trim().replace(/\s+/g, " ")}\n`).join("");
  const canonical = [req.method, path, query, headers, signedHeaders.join(";"), req.headers.get("x-amz-content-sha256")].join("\n");
  const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)))].join("\n");
  let key: ArrayBuffer = await hmac(new TextEncoder().encode(`AWS4${secret}`), amzDate.slice(0, 8));
  for (const part of [region, "s3", "aws4_request"]) key = await hmac(key, part);
  return hex(await hmac(key, toSign));
}

describe("connector", () => {
  it("takes the guide's config plus endpoint; the secret key and key id are never returned; test lists the bucket", async () => {
    const created = await createConnector("guide_s3", "s3", s3Config({ aws_secret_access_key: "very-secret-value" }));
    expect(created.secret_fields.sort()).toEqual(["aws_access_key_id", "aws_secret_access_key", "aws_session_token"]);
    const got = await callJson("GET", "/api/v1/connectors/guide_s3", 200);
    expect(JSON.stringify(got)).not.toContain("very-secret-value");
    expect(got.config).toMatchObject({ bucket: BUCKET, region: "us-east-1", endpoint: env.TEST_S3_ENDPOINT });
    const stored = await env.DB.prepare("SELECT config, secrets FROM connectors WHERE name = 'guide_s3'").first<{ config: string; secrets: string }>();
    expect(stored?.secrets).not.toContain("very-secret-value");
    expect(stored?.config).not.toContain("S3RVER");
    const test = await callJson("POST", "/api/v1/connectors/guide_s3/test", 200);
    expect(test).toMatchObject({ ok: true, server: "s3" });
  });

  it("signs every request with SigV4 (Authorization, x-amz-date, x-amz-content-sha256), verified independently", async () => {
    const seen: Request[] = [];
    const secret = "the-secret-access-key";
    const store = new S3Store({ ...s3Config({ aws_secret_access_key: secret, region: "eu-west-1" }), force_path_style: true }, (input, init) => {
      const req = new Request(input, init);
      seen.push(req.clone());
      return fetch(req);
    });
    const listed: string[] = [];
    for await (const page of store.list("globs/2024/")) listed.push(...page.map((o) => o.key));
    expect(listed).toContain("globs/2024/01/b.csv");
    const bytes = await store.read("globs/2024/01/b.csv", 0, 9);
    expect(new TextDecoder().decode(bytes)).toBe("entity_id");
    expect(seen).toHaveLength(2);
    for (const req of seen) {
      const auth = req.headers.get("authorization") ?? "";
      expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=S3RVER\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);
      expect(auth).toContain("x-amz-date");
      expect(auth).toContain("x-amz-content-sha256");
      expect(req.headers.get("x-amz-date")).toMatch(/^\d{8}T\d{6}Z$/);
      expect(req.headers.get("x-amz-content-sha256")).toMatch(/^(UNSIGNED-PAYLOAD|[0-9a-f]{64})$/);
      expect(/Signature=([0-9a-f]{64})/.exec(auth)?.[1]).toBe(await expectedSignature(req, secret, "eu-west-1"));
      // The check can fail: another secret gives another signature.
      expect(/Signature=([0-9a-f]{64})/.exec(auth)?.[1]).not.toBe(await expectedSignature(req, "other", "eu-west-1"));
    }
    // The ranged read asked for exactly the bytes it got, pinned to nothing (no ETag given).
    expect(seen[1]?.headers.get("range")).toBe("bytes=0-8");
    expect(new URL(seen[1]!.url).pathname).toBe(`/${BUCKET}/globs/2024/01/b.csv`);
  });

  it("wrong credentials: the test says auth, and a run fails saying access denied", async () => {
    await createConnector("bad_key_s3", "s3", s3Config({ aws_access_key_id: "NOT-A-KEY" }));
    const test = await callJson("POST", "/api/v1/connectors/bad_key_s3/test", 200);
    expect(test).toMatchObject({ ok: false, kind: "auth" });
    expect(test.message).toContain("access denied");
    const { run } = await ingest("bad_key_feature", "bad_key_s3", { path: "formats/rows.csv" });
    expect(run.status).toBe("failed");
    expect(run.error).toContain("access denied (InvalidAccessKeyId)");
    expect(run.error).not.toContain("S3RVER");
  });

  it("a missing bucket is named; an unreachable endpoint is 'refused'", async () => {
    await createConnector("no_bucket_s3", "s3", s3Config({ bucket: "no-such-bucket" }));
    const test = await callJson("POST", "/api/v1/connectors/no_bucket_s3/test", 200);
    expect(test).toMatchObject({ ok: false, kind: "database" });
    expect(test.message).toContain("bucket 'no-such-bucket' does not exist");
    const { run } = await ingest("no_bucket_feature", "no_bucket_s3", { path: "formats/*.csv" });
    expect(run).toMatchObject({ status: "failed" });
    expect(run.error).toContain("bucket 'no-such-bucket' does not exist");

    await createConnector("closed_port_s3", "s3", s3Config({ endpoint: "http://127.0.0.1:1" }));
    const closed = await callJson("POST", "/api/v1/connectors/closed_port_s3/test", 200);
    expect(closed.ok).toBe(false);
    expect(["refused", "unknown"]).toContain(closed.kind);
  });

  it("rejects a config without a bucket (400 naming the field)", async () => {
    const res = await call("POST", "/api/v1/connectors", { body: { name: "no_bucket_cfg", type: "s3", config: { aws_access_key_id: "a", aws_secret_access_key: "b" } } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("config.bucket");
  });
});

describe("globs", () => {
  const entitiesOf = async (feature: string, keys: string[]) => {
    const found: string[] = [];
    for (const key of GLOB_FILES) {
      const res = await call("GET", `/api/v1/features/${feature}/values/${globEntity(key)}`);
      if (res.status === 200) found.push(key);
      await res.arrayBuffer();
    }
    expect(found.sort()).toEqual(keys.sort());
  };

  it("* stays within one directory level, ** crosses levels, {a,b} picks alternatives", async () => {
    const one = await ingest("glob_star", S3, { path: "globs/2024/*/*.csv" });
    expect(one.run.error).toBeNull();
    await entitiesOf("glob_star", ["globs/2024/01/b.csv", "globs/2024/02/c.csv"]);
    expect(one.files.files_matched).toBe(2);

    await ingest("glob_globstar", S3, { path: "globs/**/*.csv" });
    await entitiesOf("glob_globstar", GLOB_FILES.filter((k) => k.endsWith(".csv")));

    await ingest("glob_braces", S3, { path: "globs/{clicks,views}/*.csv" });
    await entitiesOf("glob_braces", ["globs/clicks/e.csv", "globs/views/f.csv"]);

    await ingest("glob_year", S3, { path: "globs/202[3]/**/*.csv", format: "csv" });
    await entitiesOf("glob_year", ["globs/2023/12/a.csv"]);
  });

  it("a glob that matches nothing is a successful run with no files", async () => {
    const { run, files } = await ingest("glob_none", S3, { path: "globs/nothing-here/*.parquet" });
    expect(run).toMatchObject({ status: "succeeded", rows_read: 0 });
    expect(files).toMatchObject({ files_matched: 0, files: [] });
  });
});

describe("listing past one page", () => {
  it(`ingests all ${MANY_FILES} files of a prefix (more than the 1,000 keys of one ListObjectsV2 page)`, { timeout: 180_000 }, async () => {
    const { run, files } = await ingest("many_files", S3, { path: "many/*.csv" });
    expect(run.error).toBeNull();
    expect(files.files_matched).toBe(MANY_FILES);
    expect(run.rows_read).toBe(MANY_FILES);
    expect(files.files.filter((f) => f.status === "ingested")).toHaveLength(MANY_FILES);
    expect(files.files.at(-1)?.key).toBe(manyKey(MANY_FILES - 1));
    // 200 files per invocation: the run was handed on several times.
    expect(files.invocations).toBeGreaterThanOrEqual(Math.ceil(MANY_FILES / 200));
    expect((await latest("many_files", `m-${MANY_FILES - 1}`)).value).toBe(MANY_FILES - 1);
    expect((await latest("many_files", "m-0")).value).toBe(0);
  });
});

describe("ETag skip", () => {
  it("skips files already ingested, picks up new and changed ones on the next run", async () => {
    await put("etag/a.csv", "entity_id,value,timestamp\nea,1,2024-05-01T00:00:00Z\n");
    await put("etag/b.csv", "entity_id,value,timestamp\neb,1,2024-05-01T00:00:00Z\n");
    const first = await ingest("etag_feature", S3, { path: "etag/*.csv" });
    expect(first.files.files.map((f) => f.key)).toEqual(["etag/a.csv", "etag/b.csv"]);

    const second = await materialize("etag_feature");
    expect(second).toMatchObject({ status: "succeeded", rows_read: 0 });
    expect(await runFiles(second.id)).toMatchObject({ files_matched: 2, files_skipped: 2, files: [] });

    await put("etag/b.csv", "entity_id,value,timestamp\neb,2,2024-05-02T00:00:00Z\n");
    await put("etag/c.csv", "entity_id,value,timestamp\nec,3,2024-05-02T00:00:00Z\n");
    const third = await materialize("etag_feature");
    const files = await runFiles(third.id);
    expect(files).toMatchObject({ files_matched: 3, files_skipped: 1 });
    expect(files.files.map((f) => [f.key, f.status])).toEqual([
      ["etag/b.csv", "ingested"],
      ["etag/c.csv", "ingested"],
    ]);
    expect(await latest("etag_feature", "eb")).toMatchObject({ value: 2, timestamp: "2024-05-02T00:00:00Z" });
    expect((await latest("etag_feature", "ec")).value).toBe(3);
    expect((await latest("etag_feature", "ea")).value).toBe(1);
  });
});

describe("large files across invocations", () => {
  it("a Parquet file larger than one invocation's budget is continued through the jobs queue from its cursor", { timeout: 200_000 }, async () => {
    const [key, prefix] = Object.entries(LARGE_FILES)[0] as [string, string];
    await registerFeature({ name: "large_parquet", connector: S3, path: key });
    const queued = await callJson<Run>("POST", "/api/v1/features/large_parquet/materialize", 202);
    const run = await waitForRun(queued.id);
    expect(run.error).toBeNull();
    expect(run).toMatchObject({ status: "succeeded", rows_read: LARGE_ROWS, rows_written: LARGE_ROWS });
    const files = await runFiles(run.id);
    expect(files.invocations).toBeGreaterThanOrEqual(Math.ceil(LARGE_ROWS / TEST_ROWS_PER_INVOCATION));
    // Rows on both sides of each invocation's boundary, and the last one.
    for (const i of [0, TEST_ROWS_PER_INVOCATION - 1, TEST_ROWS_PER_INVOCATION, 2 * TEST_ROWS_PER_INVOCATION + 1, LARGE_ROWS - 1]) {
      const want = fixtureRow(prefix, i);
      expect(await latest("large_parquet", want.entity_id)).toMatchObject({ value: want.value, timestamp: isoOf(want.timestamp) });
    }
    const count = await env.DB.prepare("SELECT count(*) AS n FROM feature_values v JOIN features f ON f.id = v.feature_id WHERE f.name = 'large_parquet'").first<{ n: number }>();
    expect(count?.n).toBe(LARGE_ROWS);
  });

  for (const [key, prefix] of Object.entries(LARGE_FILES).slice(1)) {
    it(`${key} is resumed at the byte offset of its cursor: no row lost or read twice`, { timeout: 120_000 }, async () => {
      const name = `large_${prefix}`;
      const { run, files } = await ingest(name, S3, { path: key });
      expect(run.error).toBeNull();
      expect(run.rows_read).toBe(LARGE_ROWS);
      expect(files.invocations).toBeGreaterThanOrEqual(Math.ceil(LARGE_ROWS / TEST_ROWS_PER_INVOCATION));
      for (const i of [TEST_ROWS_PER_INVOCATION - 1, TEST_ROWS_PER_INVOCATION, TEST_ROWS_PER_INVOCATION + 1, LARGE_ROWS - 1]) {
        const want = fixtureRow(prefix, i);
        expect(await latest(name, want.entity_id)).toMatchObject({ value: want.value, timestamp: isoOf(want.timestamp) });
      }
    });
  }
});

describe("a corrupt file", () => {
  it("fails that file with a clear error; the other files are ingested and the run records each", { timeout: 60_000 }, async () => {
    const { run, files } = await ingest("corrupt_feature", S3, { path: "corrupt/*.parquet" });
    expect(run.status).toBe("failed");
    expect(run.error).toContain(`1 of 3 files failed`);
    expect(run.error).toContain(`s3://lake/${CORRUPT_BAD}: not a valid Parquet file`);
    expect(files.files.map((f) => [f.key, f.status])).toEqual([
      ["corrupt/a.parquet", "ingested"],
      [CORRUPT_BAD, "failed"],
      ["corrupt/c.parquet", "ingested"],
    ]);
    expect(run.rows_written).toBe(2 * CORRUPT_ROWS);
    for (const prefix of Object.values(CORRUPT_GOOD)) expect((await latest("corrupt_feature", `${prefix}-3`)).value).toBe(fixtureRow(prefix, 3).value);
    expect((await call("GET", "/api/v1/features/corrupt_feature/values/cb-3")).status).toBe(404);

    // Next run: the good files are skipped, the broken one is tried again (it may have been fixed).
    const again = await materialize("corrupt_feature");
    expect(await runFiles(again.id)).toMatchObject({ files_skipped: 2, files: [{ key: CORRUPT_BAD, status: "failed" }] });
  });
});

describe("scheduling", () => {
  it("the guide's batch_config {path, schedule}: the cron tick runs it through the jobs queue", { timeout: 200_000 }, async () => {
    await registerFeature({ name: "customer_lifetime_value", connector: S3, batch_config: { path: "formats/duckdb-snappy.parquet", schedule: "0 0 * * *" } });
    const tick = async (at: number) => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), env, ctx);
      await waitOnExecutionContext(ctx);
    };
    const runsOf = async () => (await callJson<{ runs: Run[] }>("GET", "/api/v1/features/customer_lifetime_value/runs", 200)).runs;
    await tick(Date.now());
    expect(await runsOf()).toHaveLength(0); // not due before the next midnight
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 30, 0);
    await tick(midnight.getTime());
    const [queued] = await runsOf();
    expect(queued?.id).toBeDefined();
    const run = await waitForRun(queued!.id);
    expect(run).toMatchObject({ status: "succeeded", rows_read: 300 });
    expect((await latest("customer_lifetime_value", "ds-10")).value).toBe(fixtureRow("ds", 10).value);
  });

  it("without a connector, several data-lake connectors is an error asking to name one", async () => {
    await registerFeature({ name: "no_connector", batch_config: { path: "formats/rows.csv" } });
    const run = await materialize("no_connector");
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/names no connector and there are \d+ data-lake connectors .*: set 'connector'/);
  });
});
