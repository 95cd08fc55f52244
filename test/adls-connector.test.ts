/**
 * The Azure Data Lake connector against Azurite (which verifies SAS tokens), over HTTP against the
 * Worker: the guide's config plus endpoint, the SAS never returned, formats, globs, listing past
 * one page with continuation markers, ETag skip and change pick-up, a resumed large file, a
 * corrupt file, a wrong SAS, a read-only SAS, a missing container.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { callJson } from "./helpers";
import { CONTAINER, CORRUPT_BAD, fixtureRow, FORMAT_ROWS, isoOf, LARGE_ROWS, MANY_FILES, TEST_ROWS_PER_INVOCATION } from "./lake-fixtures";
import { adlsConfig, createConnector, ingest, latest, materialize, runFiles } from "./lake-helpers";

const ADLS = "lake_adls";

beforeAll(async () => {
  await createConnector(ADLS, "adls", adlsConfig());
});

/** Writes a blob with the write SAS (the connector's own SAS can only read and list). */
async function putBlob(key: string, body: string) {
  const res = await fetch(`${env.TEST_AZURE_ENDPOINT}/${CONTAINER}/${key}?${env.TEST_AZURE_WRITE_SAS}`, {
    method: "PUT",
    headers: { "x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-08-06", "content-type": "text/csv" },
    body,
  });
  expect(res.status).toBe(201);
  await res.arrayBuffer();
}

/** The SAS with its signature replaced by another valid-looking one. */
const tamperedSas = () => env.TEST_AZURE_SAS.replace(/sig=[^&]+/, `sig=${encodeURIComponent(btoa("x".repeat(32)))}`);

describe("connector", () => {
  it("takes the guide's config (account_name, container, credential) plus endpoint; the SAS is never returned", async () => {
    const created = await createConnector("guide_adls", "azure_data_lake", adlsConfig());
    expect(created.secret_fields).toEqual(["credential"]);
    const got = await callJson("GET", "/api/v1/connectors/guide_adls", 200);
    expect(JSON.stringify(got)).not.toContain("sig=");
    expect(got.config).toEqual({ account_name: "devstoreaccount1", container: CONTAINER, endpoint: env.TEST_AZURE_ENDPOINT });
    const stored = await env.DB.prepare("SELECT secrets FROM connectors WHERE name = 'guide_adls'").first<{ secrets: string }>();
    expect(stored?.secrets).not.toContain("sig=");
    expect(await callJson("POST", "/api/v1/connectors/guide_adls/test", 200)).toMatchObject({ ok: true, server: "azure-blob" });
  });

  it("a wrong SAS signature is refused by Azurite: the test says auth and a run fails clearly", async () => {
    await createConnector("bad_sas", "adls", adlsConfig({ credential: tamperedSas() }));
    const test = await callJson("POST", "/api/v1/connectors/bad_sas/test", 200);
    expect(test).toMatchObject({ ok: false, kind: "auth" });
    expect(test.message).toContain("check that 'credential' is a valid, unexpired SAS token");
    const { run } = await ingest("bad_sas_feature", "bad_sas", { path: "formats/rows.csv" });
    expect(run.status).toBe("failed");
    expect(run.error).toContain("access denied");
    expect(run.error).not.toContain("sig=");
  });

  it("a SAS given with its leading '?' works too; a missing container is named", async () => {
    await createConnector("qmark_sas", "adls", adlsConfig({ credential: `?${env.TEST_AZURE_SAS}` }));
    expect((await callJson("POST", "/api/v1/connectors/qmark_sas/test", 200)).ok).toBe(true);
    await createConnector("no_container", "adls", adlsConfig({ container: "no-such-container" }));
    const test = await callJson("POST", "/api/v1/connectors/no_container/test", 200);
    expect(test.ok).toBe(false);
    // A container SAS signed for "lake" does not open "no-such-container": Azurite says 403, not 404.
    expect(["database", "auth"]).toContain(test.kind);
  });
});

describe("files through Azure", () => {
  for (const [key, prefix] of [
    ["formats/hyparquet-snappy.parquet", "hs"],
    ["formats/duckdb-zstd.parquet", "dz"],
    ["formats/rows.csv", "csv"],
    ["formats/rows.ndjson", "nd"],
  ] as const) {
    it(`${key}`, async () => {
      const name = `adls_${prefix}`;
      const { run } = await ingest(name, ADLS, { path: key });
      expect(run.error).toBeNull();
      expect(run.rows_read).toBe(FORMAT_ROWS);
      for (const i of [0, 7, FORMAT_ROWS - 1]) {
        const want = fixtureRow(prefix, i);
        expect(await latest(name, want.entity_id)).toMatchObject({ value: want.value, timestamp: isoOf(want.timestamp) });
      }
    });
  }

  it("globs: ** and {a,b}", async () => {
    const a = await ingest("adls_glob", ADLS, { path: "globs/**/{b,c,e}.csv" });
    expect(a.files.files.map((f) => f.key)).toEqual(["globs/2024/01/b.csv", "globs/2024/02/c.csv", "globs/clicks/e.csv"]);
  });

  it(`lists past one page (continuation markers): all ${MANY_FILES} files`, { timeout: 180_000 }, async () => {
    const { run, files } = await ingest("adls_many", ADLS, { path: "many/**" , format: "csv" });
    expect(run.error).toBeNull();
    expect(files.files_matched).toBe(MANY_FILES);
    expect(run.rows_read).toBe(MANY_FILES);
    expect((await latest("adls_many", `m-${MANY_FILES - 1}`)).value).toBe(MANY_FILES - 1);
  });

  it("ETag skip: unchanged blobs are skipped, a rewritten blob is read again", async () => {
    await putBlob("etag/x.csv", "entity_id,value\nax,1\n");
    await putBlob("etag/y.csv", "entity_id,value\nay,1\n");
    const first = await ingest("adls_etag", ADLS, { path: "etag/*.csv" });
    expect(first.files.files).toHaveLength(2);
    const second = await materialize("adls_etag");
    expect(await runFiles(second.id)).toMatchObject({ files_skipped: 2, files: [] });
    await putBlob("etag/y.csv", "entity_id,value\nay,5\n");
    const third = await materialize("adls_etag");
    expect((await runFiles(third.id)).files.map((f) => f.key)).toEqual(["etag/y.csv"]);
    expect((await latest("adls_etag", "ay")).value).toBe(5);
  });

  it("a large CSV is read across invocations from its byte cursor", { timeout: 120_000 }, async () => {
    const { run, files } = await ingest("adls_large", ADLS, { path: "large/big.csv" });
    expect(run.error).toBeNull();
    expect(run.rows_read).toBe(LARGE_ROWS);
    expect(files.invocations).toBeGreaterThanOrEqual(Math.ceil(LARGE_ROWS / TEST_ROWS_PER_INVOCATION));
    for (const i of [TEST_ROWS_PER_INVOCATION - 1, TEST_ROWS_PER_INVOCATION, LARGE_ROWS - 1]) {
      const want = fixtureRow("lc", i);
      expect((await latest("adls_large", want.entity_id)).value).toBe(want.value);
    }
  });

  it("a corrupt blob fails only itself", { timeout: 60_000 }, async () => {
    const { run, files } = await ingest("adls_corrupt", ADLS, { path: "corrupt/*.parquet" });
    expect(run.status).toBe("failed");
    expect(run.error).toContain(`abfs://${CONTAINER}@devstoreaccount1/${CORRUPT_BAD}: not a valid Parquet file`);
    expect(files.files.map((f) => f.status)).toEqual(["ingested", "failed", "ingested"]);
  });
});
