/**
 * Amazon S3 and every S3-compatible store (R2, MinIO, Ceph, ...): the guide's config (`bucket,
 * aws_access_key_id, aws_secret_access_key, region`) plus `endpoint` and path-style addressing.
 * Every request is signed with SigV4 by aws4fetch; listing is ListObjectsV2 with continuation
 * tokens, reads are ranged GETs pinned to the listed ETag with If-Match.
 */
import { AwsClient } from "aws4fetch";
import { XMLParser } from "fast-xml-parser";
import { z } from "zod";
import { EndpointUrl } from "../files/endpoint";
import { encodeKey, REQUEST_TIMEOUT_MS, storeFetch, testStore } from "../files/store";
import { secret, SourceError, type ObjectInfo, type ObjectStore, type ObjectStoreConnector } from "../types";

export const S3Config = z
  .object({
    bucket: z.string().min(1).max(255),
    aws_access_key_id: secret(z.string().min(1).max(256)),
    aws_secret_access_key: secret(z.string().min(1).max(1024)),
    /** The guide's batch example leaves it out; us-east-1 is S3's default (R2 takes "auto"). */
    region: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "must be a region name such as us-east-1 (R2: auto)").default("us-east-1"),
    /** Temporary credentials (STS) come with a session token. */
    aws_session_token: secret(z.string().min(1).max(4096)).optional(),
    /** Any S3-compatible endpoint, e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000 (MinIO). */
    endpoint: EndpointUrl.optional(),
    /** `endpoint/bucket/key` instead of `bucket.endpoint/key`. Default: on with a custom endpoint, off for AWS. */
    force_path_style: z.boolean().optional(),
  })
  .strict();
export type S3Config = z.infer<typeof S3Config>;

/** Keys per ListObjectsV2 page: S3's maximum. */
const PAGE_KEYS = 1000;

const xml = new XMLParser({
  // Keys like "2024" must stay strings; numbers are converted where they are expected.
  parseTagValue: false,
  isArray: (name) => name === "Contents",
});

interface ListResult {
  ListBucketResult?: {
    Contents?: { Key: string; ETag: string; Size: string }[];
    IsTruncated?: string;
    NextContinuationToken?: string;
  };
}

/** The bucket's base URL (no trailing slash): virtual-hosted or path-style. */
export function bucketUrl(config: S3Config): string {
  const pathStyle = config.force_path_style ?? config.endpoint !== undefined;
  const endpoint = new URL(config.endpoint ?? `https://s3.${config.region}.amazonaws.com`);
  const base = endpoint.origin + endpoint.pathname.replace(/\/+$/, "");
  if (pathStyle) return `${base}/${encodeURIComponent(config.bucket)}`;
  return `${endpoint.protocol}//${config.bucket}.${endpoint.host}${endpoint.pathname.replace(/\/+$/, "")}`;
}

/**
 * An S3 error response as a SourceError a user can act on. Only the response's status and its error
 * code (when it looks like one) are used: the body is whatever the endpoint sent, and a connection
 * test must not echo it.
 */
async function s3Error(location: string, bucket: string, res: Response, key?: string): Promise<SourceError> {
  const body = await res.text().catch(() => "");
  const code = safeCode(/<Code>([^<]+)<\/Code>/.exec(body)?.[1]);
  const what = key === undefined ? location : `${location}/${key}`;
  if (res.status >= 300 && res.status < 400) {
    return new SourceError(
      "unknown",
      `${location}: S3 answered a redirect (${res.status}${code ? ` ${code}` : ""}); FStore does not follow redirects of signed requests: set 'region' to the bucket's region, or 'endpoint' to where the bucket lives`,
    );
  }
  if (code === "NoSuchBucket") return new SourceError("database", `bucket '${bucket}' does not exist (${location})`);
  if (code === "NoSuchKey" || (res.status === 404 && key !== undefined)) return new SourceError("query", `${what} does not exist (it was deleted after it was listed?)`);
  if (res.status === 412) return new SourceError("query", `${what} changed while it was being read (its ETag no longer matches); the next run reads the new version`);
  if (res.status === 401 || res.status === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch/.test(code)) {
    return new SourceError("auth", `${location}: access denied (${code || res.status}): check aws_access_key_id, aws_secret_access_key and region`);
  }
  return new SourceError("unknown", `${what}: S3 answered ${res.status}${code ? ` ${code}` : ""}`);
}

/** An error code from a response body, or "" when it does not look like one (no free text is echoed). */
const safeCode = (code: string | undefined | null) => (code && /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(code) ? code : "");

export class S3Store implements ObjectStore {
  readonly location: string;
  private readonly client: AwsClient;
  private readonly base: string;

  constructor(
    private readonly config: S3Config,
    /** Lets a test observe the signed requests; production uses the global fetch. */
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {
    this.location = `s3://${config.bucket}`;
    this.base = bucketUrl(config);
    // aws4fetch retries 5xx and 429 itself; two retries keep a failing run short.
    this.client = new AwsClient({
      accessKeyId: config.aws_access_key_id,
      secretAccessKey: config.aws_secret_access_key,
      sessionToken: config.aws_session_token,
      service: "s3",
      region: config.region,
      retries: 2,
    });
  }

  private async send(url: string, init: RequestInit = {}): Promise<Response> {
    const signed = await this.client.sign(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    // Never follow a redirect: it would carry the signed request (and the session token) to wherever the endpoint points.
    return storeFetch(this.location, () => this.fetcher(signed, { redirect: "manual" }));
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo[]> {
    let token: string | undefined;
    do {
      const params = new URLSearchParams({ "list-type": "2", "max-keys": String(PAGE_KEYS), prefix });
      if (token) params.set("continuation-token", token);
      const res = await this.send(`${this.base}/?${params}`);
      if (!res.ok) throw await s3Error(this.location, this.config.bucket, res);
      const parsed = xml.parse(await res.text()) as ListResult;
      const result = parsed.ListBucketResult;
      if (!result) throw new SourceError("unknown", `${this.location}: the listing is not a ListObjectsV2 result`);
      yield (result.Contents ?? []).map((c) => ({ key: String(c.Key), etag: String(c.ETag), size: Number(c.Size) }));
      token = result.IsTruncated === "true" ? result.NextContinuationToken : undefined;
    } while (token);
  }

  async read(key: string, start: number, end: number, etag?: string): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    const headers: Record<string, string> = { range: `bytes=${start}-${end - 1}` };
    if (etag) headers["if-match"] = etag;
    const res = await this.send(`${this.base}/${encodeKey(key)}`, { headers });
    if (res.status !== 206 && res.status !== 200) throw await s3Error(this.location, this.config.bucket, res, key);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // A server that ignores Range answers 200 with the whole object.
    return res.status === 200 ? bytes.slice(start, end) : bytes;
  }

  async probe(): Promise<void> {
    const res = await this.send(`${this.base}/?${new URLSearchParams({ "list-type": "2", "max-keys": "1" })}`);
    if (!res.ok) throw await s3Error(this.location, this.config.bucket, res);
    await res.body?.cancel();
  }
}

export const s3Connector: ObjectStoreConnector<typeof S3Config> = {
  type: "s3",
  kind: "object_store",
  configSchema: S3Config,
  // The host requests go to: the endpoint's, or AWS's regional one, with the bucket in front of it for virtual-hosted addressing.
  endpoints: (config) => [{ field: config.endpoint ? "endpoint" : "bucket/region", host: new URL(bucketUrl(config)).hostname }],
  test: (config) => testStore(new S3Store(config), "s3"),
  open: (config) => new S3Store(config),
};
