/**
 * The egress policy for connectors (connectors/egress.ts, docs/connectors.md#egress-policy):
 * refused addresses in every notation and field, host names resolved and checked on connect,
 * redirects of signed requests never followed, connection tests that echo no remote body and
 * give no timing on failure, and secrets scrubbed where they can appear — not every occurrence of
 * a password's text. The tests run with FSTORE_EGRESS_ALLOW=loopback (vitest.config.ts); no test
 * lets the Worker connect anywhere but 127.0.0.1.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseEgressPolicy, staticRefusal } from "../connectors/egress";
import { scrubMessage } from "../connectors/scrub";
import { call, callJson, registerFeature } from "./helpers";
import { createConnector, materialize, pgConfig } from "./sql-helpers";

const create = (name: string, type: string, config: Record<string, unknown>) => call("POST", "/api/v1/connectors", { body: { name, type, config } });
const s3 = (over: Record<string, unknown>) => ({ bucket: "b", aws_access_key_id: "AKIAEXAMPLE", aws_secret_access_key: "secret-access-key-1", ...over });
const adls = (over: Record<string, unknown>) => ({ account_name: "devstoreaccount1", container: "c", credential: "sv=2021-08-06&sp=rl&sig=c2lnbmF0dXJlLXNlY3JldA%3D%3D", ...over });

describe("refused when a connector is created (400, nothing stored)", () => {
  const cases: [string, string, Record<string, unknown>, RegExp][] = [
    ["postgres host: the metadata address", "postgres", pgConfig({ host: "169.254.169.254", ws_proxy: undefined }), /metadata/],
    ["postgres host: metadata in hex", "postgres", pgConfig({ host: "0xa9.0xfe.0xa9.0xfe", ws_proxy: undefined }), /metadata/],
    ["postgres host: metadata as one decimal number", "postgres", pgConfig({ host: "2852039166", ws_proxy: undefined }), /metadata/],
    ["postgres host: metadata mapped into IPv6", "postgres", pgConfig({ host: "::ffff:169.254.169.254", ws_proxy: undefined }), /metadata/],
    ["postgres host: the EC2 IPv6 metadata address", "postgres", pgConfig({ host: "[fd00:ec2::254]", ws_proxy: undefined }), /metadata/],
    ["postgres host: GCP's metadata name", "postgres", pgConfig({ host: "metadata.google.internal", ws_proxy: undefined }), /metadata/],
    ["postgres host: a private address", "postgres", pgConfig({ host: "10.0.0.5", ws_proxy: undefined }), /private-network.*FSTORE_EGRESS_ALLOW/],
    ["postgres host: a link-local address", "postgres", pgConfig({ host: "169.254.1.1", ws_proxy: undefined }), /link-local/],
    ["postgres host: 0.0.0.0", "postgres", pgConfig({ host: "0.0.0.0", ws_proxy: undefined }), /reserved/],
    ["postgres host: a .internal name", "postgres", pgConfig({ host: "db.internal", ws_proxy: undefined }), /private-network/],
    ["postgres host: not a host", "postgres", pgConfig({ host: "user@10.0.0.1", ws_proxy: undefined }), /not a host name/],
    ["postgres ws_proxy: a private address", "postgres", pgConfig({ host: "127.0.0.1", ws_proxy: "192.168.1.10:8787/v2" }), /ws_proxy.*private-network/],
    ["mysql host: a private address", "mysql", { host: "172.16.0.1", database: "d", user: "u" }, /private-network/],
    ["mysql host: CGNAT (Alibaba's metadata)", "mysql", { host: "100.100.100.200", database: "d", user: "u" }, /metadata/],
    ["s3 endpoint: the metadata address", "s3", s3({ endpoint: "http://169.254.169.254/latest" }), /metadata/],
    ["s3 endpoint: a private address mapped into IPv6", "s3", s3({ endpoint: "http://[::ffff:10.0.0.1]:9000" }), /private-network/],
    ["s3 bucket: a host smuggled into virtual-hosted addressing", "s3", s3({ bucket: "169.254.169.254#" }), /metadata/],
    ["adls endpoint: a private address", "adls", adls({ endpoint: "http://192.168.0.2:10000/devstoreaccount1" }), /private-network/],
    ["adls endpoint: a SAS token in the URL (it would be stored as plain config)", "adls", adls({ endpoint: "http://127.0.0.1:10000/devstoreaccount1?sv=1&sig=abc" }), /without credentials, query string/],
    ["s3 endpoint: credentials in the URL", "s3", s3({ endpoint: "http://user:pw@127.0.0.1:9000" }), /without credentials/],
    ["s3 endpoint: a URL only zod accepts (found by the fuzz: was a 500)", "s3", s3({ endpoint: "http:// :1/x" }), /must be the store's URL/],
  ];
  it.each(cases)("%s", async (_what, type, config, message) => {
    const name = `eg_${Math.random().toString(36).slice(2, 10)}`;
    const res = await create(name, type, config);
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(message);
    expect((await call("GET", `/api/v1/connectors/${name}`)).status).toBe(404);
  });
});

describe("host names are resolved and checked on every connect", () => {
  it.each([
    ["private.fstore.test", "egress", /10\.0\.0\.7.*private-network/],
    ["metadata.fstore.test", "egress", /169\.254\.169\.254.*metadata/],
    ["mixed.fstore.test", "egress", /fd00::7/],
    ["mapped.fstore.test", "egress", /169\.254\.169\.254/],
    ["nxdomain.fstore.test", "dns", /does not exist/],
  ])("a connector on %s: its test answers %s, and a run of it fails the same way", async (host, kind, message) => {
    const name = `egn_${Math.random().toString(36).slice(2, 10)}`;
    await createConnector(name, "postgres", pgConfig({ host, ws_proxy: undefined, transport: "tcp" }));
    const result = await callJson("POST", `/api/v1/connectors/${name}/test`, 200);
    expect(result).toMatchObject({ ok: false, kind });
    expect(result.message).toMatch(message);
    expect(result.latency_ms).toBeUndefined();
    const feature = `egf_${name}`;
    await registerFeature({ name: feature, connector: name, query: "SELECT 'e' AS entity_id, 1 AS value", update_frequency: "1d" });
    const run = await materialize(feature);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(message);
  });

  it("a name resolving to loopback passes the check, since this deployment allows loopback", async () => {
    await createConnector("egn_loopback", "postgres", pgConfig({ host: "loopback.fstore.test", ws_proxy: undefined, transport: "tcp", ssl: false }));
    // The connection itself is then made by the runtime, whose own resolver does not know the test name.
    const result = await callJson("POST", "/api/v1/connectors/egn_loopback/test", 200);
    expect(result.kind).not.toBe("egress");
    expect(result.message).not.toMatch(/egress/);
  });
});

describe("the policy itself, under other settings", () => {
  const refused = (allow: string, host: string) => staticRefusal(parseEgressPolicy(allow, undefined), { field: "host", host }) !== null;
  it("refuses loopback in every notation by default (production)", () => {
    for (const host of ["127.0.0.1", "localhost", "db.localhost", "[::1]", "::1", "2130706433", "127.1", "0177.0.0.1", "0x7f000001", "::ffff:127.0.0.1"]) {
      expect(refused("", host), host).toBe(true);
      expect(refused("loopback", host), host).toBe(false);
    }
  });
  it("opens private ranges by keyword, CIDR, address or name, and never metadata", () => {
    expect(refused("private", "192.168.1.1")).toBe(false);
    expect(refused("private", "169.254.1.1")).toBe(true);
    expect(refused("10.1.0.0/16", "10.1.2.3")).toBe(false);
    expect(refused("10.1.0.0/16", "10.2.0.1")).toBe(true);
    expect(refused("10.0.0.9", "10.0.0.9")).toBe(false);
    expect(refused("db.internal, *.corp.example", "db.internal")).toBe(false);
    expect(refused("db.internal, *.corp.example", "pg.corp.example")).toBe(false);
    expect(refused("db.internal, *.corp.example", "other.internal")).toBe(true);
    expect(refused("169.254.0.0/16,private,loopback,metadata.google.internal", "169.254.169.254")).toBe(true);
    expect(refused("169.254.0.0/16,private,loopback,metadata.google.internal", "metadata.google.internal")).toBe(true);
    expect(refused("", "db.example.com")).toBe(false); // public names are resolved and checked on connect
  });
});

describe("object stores: no redirect followed, no remote body echoed", () => {
  const seen = async () => (await (await fetch(`${env.TEST_REDIRECT_RECORDER}/seen`)).json()) as { headers: Record<string, string> }[];

  it("S3: a redirect is not followed, so neither the signature nor the session token reaches its target", async () => {
    const before = (await seen()).length;
    await createConnector("eg_s3_redirect", "s3", s3({ endpoint: env.TEST_HOSTILE_STORE, aws_session_token: "session-token-secret-42" }));
    const result = await callJson("POST", "/api/v1/connectors/eg_s3_redirect/test", 200);
    expect(result).toMatchObject({ ok: false });
    expect(result.message).toMatch(/redirect/);
    expect(JSON.stringify(result)).not.toContain("session-token-secret-42");
    expect((await seen()).length).toBe(before);
  });

  it("ADLS: a redirect is not followed, so the SAS token stays with the store it was made for", async () => {
    const before = (await seen()).length;
    await createConnector("eg_adls_redirect", "adls", adls({ endpoint: `${env.TEST_HOSTILE_STORE}/devstoreaccount1` }));
    const result = await callJson("POST", "/api/v1/connectors/eg_adls_redirect/test", 200);
    expect(result).toMatchObject({ ok: false });
    expect(result.message).toMatch(/redirect/);
    expect(JSON.stringify(result)).not.toMatch(/c2lnbmF0dXJlLXNlY3JldA/);
    expect((await seen()).length).toBe(before);
  });

  it.each([
    ["s3", s3({ endpoint: `${env.TEST_HOSTILE_STORE}/body` })],
    ["adls", adls({ endpoint: `${env.TEST_HOSTILE_STORE}/body` })],
  ])("%s: an error body's text is not echoed, and a failure carries no timing", async (type, config) => {
    const name = `eg_${type}_body`;
    await createConnector(name, type, config);
    const result = await callJson("POST", `/api/v1/connectors/${name}/test`, 200);
    expect(result).toMatchObject({ ok: false, kind: "unknown" });
    expect(result.message).toMatch(/answered 500/);
    expect(JSON.stringify(result)).not.toContain("REMOTE-BODY-TEXT");
    expect(result.latency_ms).toBeUndefined();
  });
});

describe("secrets are scrubbed where they can appear, not wherever their text happens to be", () => {
  it("keeps ordinary words whatever the password is", () => {
    expect(scrubMessage('cursor "fstore_pull" does not exist', ["x"])).toBe('cursor "fstore_pull" does not exist');
    expect(scrubMessage("password authentication failed for user \"u\"", ["password"])).toBe('password authentication failed for user "u"');
    expect(scrubMessage("Access denied for user 'root'@'localhost' (using password: YES)", ["YES"])).toContain("using password: YES");
    expect(scrubMessage("abfs://lake@devstoreaccount1/a.csv: row 3, column 'value'")).toBe("abfs://lake@devstoreaccount1/a.csv: row 3, column 'value'");
    expect(scrubMessage("s3://bucket/key.parquet does not exist")).toBe("s3://bucket/key.parquet does not exist");
  });
  it("scrubs connection strings, URLs, SAS signatures, credential pairs, bearer and API keys", () => {
    const secrets = ["pa55:w0rd", "sv=2021&sig=c2ln%2Fbase64sig%3D"];
    const out = scrubMessage(
      "failed postgres://fstore:pa55:w0rd@db:5432/x; GET https://a.blob.core.windows.net/c?restype=container&sv=2021&sig=c2ln%2Fbase64sig%3D; password=hunter2 token: abc \"aws_secret_access_key\":\"AKIA/secret\" Authorization: Bearer fsk_abcdef_0123456789; raw pa55:w0rd",
      secrets,
    );
    for (const leaked of ["pa55:w0rd", "c2ln", "hunter2", "abc", "AKIA/secret", "0123456789"]) expect(out, leaked).not.toContain(leaked);
    expect(out).toContain("restype=container");
  });
  it("a run error never shows a SQL connector's password", async () => {
    const password = "S3cret-pw!x";
    await createConnector("eg_scrub_pg", "postgres", pgConfig({ user: "fstore_reader", password }));
    await registerFeature({ name: "eg_scrub", connector: "eg_scrub_pg", query: "SELECT 'e' AS entity_id, 1 AS value", update_frequency: "1d" });
    const run = await materialize("eg_scrub");
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/auth/);
    expect(run.error).not.toContain(password);
  });
});
