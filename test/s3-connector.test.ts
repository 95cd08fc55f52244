/**
 * What only the S3 connector does, against s3rver, over HTTP against the Worker: the guide's
 * config with its secrets never returned, SigV4 signatures (checked here by an independent
 * implementation, since s3rver only checks the access key id), bucket errors, and the guide's S3
 * batch example on the cron schedule. Everything every object store does (formats, globs, more
 * than one listing page, ETag skip, bad files, wrong credentials, large files) is in the contract
 * suite (test/object-stores.test.ts).
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { S3Store } from "../connectors/s3";
import worker from "../src/index";
import { call, callJson, registerFeature } from "./helpers";
import { BUCKET, fixtureRow } from "./lake-fixtures";
import { createConnector, ingest, latest, materialize, s3Config, waitForRun, type Run } from "./lake-helpers";

const S3 = "lake_s3";

beforeAll(async () => {
  await createConnector(S3, "s3", s3Config());
});

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
