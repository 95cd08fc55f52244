/**
 * What only the Azure Data Lake connector does, against Azurite (which verifies SAS tokens), over
 * HTTP against the Worker — SAS handling: the guide's config plus endpoint with the SAS never
 * returned, a SAS given with its leading '?', an expired SAS, a SAS that may not list, and a
 * container the SAS does not open. Everything every object store
 * does (formats, globs, more than one listing page, ETag skip, bad files, a wrong SAS, large files)
 * is in the contract suite (test/object-stores.test.ts).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { callJson } from "./helpers";
import { CONTAINER, fixtureRow } from "./lake-fixtures";
import { adlsConfig, createConnector, ingest, latest } from "./lake-helpers";

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

  it("a SAS given with its leading '?' works too, for the connection test and for runs; a missing container is named", async () => {
    await createConnector("qmark_sas", "adls", adlsConfig({ credential: `?${env.TEST_AZURE_SAS}` }));
    expect((await callJson("POST", "/api/v1/connectors/qmark_sas/test", 200)).ok).toBe(true);
    const { run } = await ingest("qmark_sas_feature", "qmark_sas", { path: "formats/rows.csv" });
    expect(run).toMatchObject({ status: "succeeded", rows_written: 300 });
    expect((await latest("qmark_sas_feature", "csv-7")).value).toBe(fixtureRow("csv", 7).value);
    await createConnector("no_container", "adls", adlsConfig({ container: "no-such-container" }));
    const test = await callJson("POST", "/api/v1/connectors/no_container/test", 200);
    expect(test.ok).toBe(false);
    // A container SAS signed for "lake" does not open "no-such-container": Azurite says 403, not 404.
    expect(["database", "auth"]).toContain(test.kind);
  });

  for (const [name, sas, what] of [
    ["expired_sas", "TEST_AZURE_EXPIRED_SAS", "an expired SAS"],
    ["no_list_sas", "TEST_AZURE_NO_LIST_SAS", "a SAS without list permission"],
  ] as const) {
    it(`${what} is refused: the test and a run say which credential to check, without echoing it`, async () => {
      await createConnector(name, "adls", adlsConfig({ credential: env[sas] }));
      const test = await callJson("POST", `/api/v1/connectors/${name}/test`, 200);
      expect(test).toMatchObject({ ok: false, kind: "auth" });
      expect(test.message).toContain("check that 'credential' is a valid, unexpired SAS token with read and list permissions");
      const { run } = await ingest(`${name}_feature`, name, { path: "formats/*.csv" });
      expect(run).toMatchObject({ status: "failed", rows_written: 0 });
      expect(run.error).toContain("access denied");
      const sig = /sig=([^&]+)/.exec(env[sas])![1]!;
      expect(JSON.stringify(test)).not.toContain(sig);
      expect(run.error).not.toContain(sig);
    });
  }
});
