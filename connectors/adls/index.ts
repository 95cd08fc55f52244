/**
 * Azure Data Lake Storage (Gen2) and plain Blob Storage, through the Blob REST API with a SAS
 * token: the guide's config (`account_name, container, credential`) plus `endpoint` (Azurite,
 * sovereign clouds, private endpoints). Plain fetch: List Blobs with continuation markers, ranged
 * GETs pinned to the listed ETag. The Blob endpoint serves hierarchical-namespace (ADLS Gen2)
 * accounts too, and unlike the DFS endpoint it is what Azurite emulates.
 */
import { XMLParser } from "fast-xml-parser";
import { z } from "zod";
import { EndpointUrl } from "../files/endpoint";
import { encodeKey, REQUEST_TIMEOUT_MS, storeFetch, testStore } from "../files/store";
import { secret, SourceError, type ObjectInfo, type ObjectStore, type ObjectStoreConnector } from "../types";

export const AdlsConfig = z
  .object({
    account_name: z.string().regex(/^[a-z0-9]{3,24}$/, "must be a storage account name: 3-24 lowercase letters and digits"),
    container: z.string().min(1).max(63),
    /** A SAS token (account or container) with read and list permissions, with or without the leading '?'. */
    credential: secret(z.string().min(1).max(4096)),
    /** The account's Blob endpoint; default https://<account_name>.blob.core.windows.net. Azurite: http://127.0.0.1:10000/devstoreaccount1. */
    endpoint: EndpointUrl.optional(),
  })
  .strict();
export type AdlsConfig = z.infer<typeof AdlsConfig>;

/** Blob service version sent with every request; SAS tokens of any newer version still work. */
const API_VERSION = "2021-08-06";
/** Blobs per List Blobs page (Azure allows 5,000; 1,000 keeps a page as small as S3's). */
const PAGE_BLOBS = 1000;

const xml = new XMLParser({
  parseTagValue: false,
  isArray: (name, jpath) => name === "Blob" && String(jpath).endsWith("Blobs.Blob"),
});

interface ListResult {
  EnumerationResults?: {
    Blobs?: { Blob?: { Name: string; Properties: { Etag: string; "Content-Length": string } }[] } | string;
    NextMarker?: string;
  };
}

export function containerUrl(config: AdlsConfig): string {
  const endpoint = (config.endpoint ?? `https://${config.account_name}.blob.core.windows.net`).replace(/\/+$/, "");
  return `${endpoint}/${encodeURIComponent(config.container)}`;
}

/** An Azure error response as a SourceError: its status and error code only, never the body's text (a connection test must not echo it). */
async function azureError(location: string, config: AdlsConfig, res: Response, key?: string): Promise<SourceError> {
  const body = await res.text().catch(() => "");
  const code = safeCode(res.headers.get("x-ms-error-code")) || safeCode(/<Code>([^<]+)<\/Code>/.exec(body)?.[1]);
  const what = key === undefined ? location : `${location}/${key}`;
  if (res.status >= 300 && res.status < 400) {
    return new SourceError("unknown", `${location}: Azure Storage answered a redirect (${res.status}); FStore does not follow redirects of requests carrying a SAS token: set 'endpoint' to the account's Blob endpoint`);
  }
  if (code === "ContainerNotFound") return new SourceError("database", `container '${config.container}' does not exist in account '${config.account_name}'`);
  if (code === "BlobNotFound" || (res.status === 404 && key !== undefined)) return new SourceError("query", `${what} does not exist (it was deleted after it was listed?)`);
  if (res.status === 412 || code === "ConditionNotMet") return new SourceError("query", `${what} changed while it was being read (its ETag no longer matches); the next run reads the new version`);
  if (res.status === 401 || res.status === 403) {
    return new SourceError("auth", `${location}: access denied (${code || res.status}): check that 'credential' is a valid, unexpired SAS token with read and list permissions`);
  }
  return new SourceError("unknown", `${what}: Azure Storage answered ${res.status}${code ? ` ${code}` : ""}`);
}

/** An error code, or "" when the text does not look like one. */
const safeCode = (code: string | undefined | null) => (code && /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(code) ? code : "");

export class AdlsStore implements ObjectStore {
  readonly location: string;
  private readonly base: string;
  private readonly sas: string;

  constructor(
    private readonly config: AdlsConfig,
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {
    this.location = `abfs://${config.container}@${config.account_name}`;
    this.base = containerUrl(config);
    this.sas = config.credential.replace(/^\?/, "");
  }

  private send(url: string, headers: Record<string, string> = {}): Promise<Response> {
    return storeFetch(this.location, () =>
      this.fetcher(`${url}${url.includes("?") ? "&" : "?"}${this.sas}`, {
        headers: { "x-ms-version": API_VERSION, ...headers },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        // The SAS token is in the URL: a followed redirect would hand it to wherever the endpoint points.
        redirect: "manual",
      }),
    );
  }

  private listUrl(prefix: string, marker: string | undefined, max: number): string {
    const params = new URLSearchParams({ restype: "container", comp: "list", maxresults: String(max) });
    if (prefix) params.set("prefix", prefix);
    if (marker) params.set("marker", marker);
    return `${this.base}?${params}`;
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo[]> {
    let marker: string | undefined;
    do {
      const res = await this.send(this.listUrl(prefix, marker, PAGE_BLOBS));
      if (!res.ok) throw await azureError(this.location, this.config, res);
      const result = (xml.parse(await res.text()) as ListResult).EnumerationResults;
      if (!result) throw new SourceError("unknown", `${this.location}: the listing is not a List Blobs result`);
      const blobs = typeof result.Blobs === "object" ? (result.Blobs.Blob ?? []) : [];
      yield blobs.map((b) => ({ key: String(b.Name), etag: String(b.Properties.Etag), size: Number(b.Properties["Content-Length"]) }));
      marker = result.NextMarker ? String(result.NextMarker) : undefined;
    } while (marker);
  }

  async read(key: string, start: number, end: number, etag?: string): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    const headers: Record<string, string> = { "x-ms-range": `bytes=${start}-${end - 1}` };
    if (etag) headers["if-match"] = etag;
    const res = await this.send(`${this.base}/${encodeKey(key)}`, headers);
    if (res.status !== 206 && res.status !== 200) throw await azureError(this.location, this.config, res, key);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return res.status === 200 ? bytes.slice(start, end) : bytes;
  }

  async probe(): Promise<void> {
    const res = await this.send(this.listUrl("", undefined, 1));
    if (!res.ok) throw await azureError(this.location, this.config, res);
    await res.body?.cancel();
  }
}

export const adlsConnector: ObjectStoreConnector<typeof AdlsConfig> = {
  type: "adls",
  kind: "object_store",
  configSchema: AdlsConfig,
  endpoints: (config) => [{ field: config.endpoint ? "endpoint" : "account_name", host: new URL(containerUrl(config)).hostname }],
  test: (config) => testStore(new AdlsStore(config), "azure-blob"),
  open: (config) => new AdlsStore(config),
};
