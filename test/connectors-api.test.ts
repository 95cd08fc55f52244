/**
 * Connector API: create/list/get/delete with scopes, secrets encrypted at rest and never returned,
 * no secret storage without FSTORE_SECRET_KEY, and `/test` saying what failed (DNS, refused, auth,
 * database missing, timeout) against the real PostgreSQL and MariaDB.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, callJson, createKey, registerFeature } from "./helpers";
import { createConnector, mysqlConfig, pgConfig } from "./sql-helpers";

const SECRET = "s3cret-Pa55word-that-must-not-leak";

describe("connectors API", () => {
  it("creates, lists, gets and deletes connectors; the password is never returned nor stored in clear", async () => {
    const created = await createConnector("api_pg", "postgres", pgConfig({ password: SECRET }));
    expect(created).toMatchObject({ name: "api_pg", type: "postgres", secret_fields: ["password"] });
    expect(created.config).toMatchObject({ host: "127.0.0.1", port: 5432, user: "postgres" });
    expect(JSON.stringify(created)).not.toContain(SECRET);

    const one = await call("GET", "/api/v1/connectors/api_pg");
    const text = await one.text();
    expect(one.status).toBe(200);
    expect(text).not.toContain(SECRET);
    expect(JSON.parse(text).config.password).toBeUndefined();
    const list = await callJson<{ connectors: { name: string }[] }>("GET", "/api/v1/connectors", 200);
    expect(list.connectors.map((c) => c.name)).toContain("api_pg");
    expect(JSON.stringify(list)).not.toContain(SECRET);

    const row = await env.DB.prepare("SELECT config, secrets FROM connectors WHERE name = 'api_pg'").first<{ config: string; secrets: string }>();
    expect(row?.config).not.toContain(SECRET);
    expect(row?.secrets).toMatch(/^v1\./);
    expect(row?.secrets).not.toContain(SECRET);
    expect(atob(row!.secrets.split(".")[2]!)).not.toContain(SECRET);

    expect((await call("DELETE", "/api/v1/connectors/api_pg")).status).toBe(204);
    expect((await call("GET", "/api/v1/connectors/api_pg")).status).toBe(404);
  });

  it("validates the config against the connector type and refuses duplicates", async () => {
    const bad = await call("POST", "/api/v1/connectors", { body: { name: "api_bad", type: "postgres", config: { host: "x", database: "d" } } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("config.user");
    expect((await call("POST", "/api/v1/connectors", { body: { name: "api_bad", type: "oracle", config: {} } })).status).toBe(400);
    await createConnector("api_dup", "mysql", mysqlConfig());
    expect((await call("POST", "/api/v1/connectors", { body: { name: "api_dup", type: "mysql", config: mysqlConfig() } })).status).toBe(409);
  });

  it("accepts the guide's config exactly (host, port, database, user, password) for every alias", async () => {
    const guide = { host: "localhost", port: 5432, database: "mydb", user: "user", password: "password" };
    for (const type of ["postgres", "postgresql", "mysql", "mariadb"]) await createConnector(`api_guide_${type}`, type, guide);
  });

  it("refuses to delete a connector features still use", async () => {
    await createConnector("api_used", "postgres", pgConfig());
    await registerFeature({ name: "api_uses_connector", connector: "api_used", query: "SELECT 1, 2" });
    const res = await call("DELETE", "/api/v1/connectors/api_used");
    expect(res.status).toBe(409);
    expect(JSON.stringify(await res.json())).toContain("api_uses_connector");
  });

  it("needs admin to create, delete or test, and read to look", async () => {
    const read = await createKey(["read"]);
    const write = await createKey(["write"]);
    await createConnector("api_scoped", "mysql", mysqlConfig());
    expect((await call("GET", "/api/v1/connectors/api_scoped", { key: read })).status).toBe(200);
    expect((await call("GET", "/api/v1/connectors", { key: null })).status).toBe(401);
    for (const key of [read, write]) {
      expect((await call("POST", "/api/v1/connectors", { key, body: { name: "api_nope", type: "mysql", config: mysqlConfig() } })).status).toBe(403);
      expect((await call("DELETE", "/api/v1/connectors/api_scoped", { key })).status).toBe(403);
      expect((await call("POST", "/api/v1/connectors/api_scoped/test", { key })).status).toBe(403);
    }
  });

  it("stores no secret without FSTORE_SECRET_KEY: 503, and nothing written", async () => {
    const req = new Request("http://fstore.test/api/v1/connectors", {
      method: "POST",
      headers: { authorization: `Bearer ${env.FSTORE_ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "api_no_key", type: "postgres", config: pgConfig({ password: SECRET }) }),
    });
    const ctx = createExecutionContext();
    const res = await worker.fetch(req, { ...env, FSTORE_SECRET_KEY: undefined } as unknown as typeof env, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "SECRET_KEY_NOT_CONFIGURED" });
    expect((await call("GET", "/api/v1/connectors/api_no_key")).status).toBe(404);
  });
});

describe("connector test: says what failed", () => {
  const blackhole = Number(env.TEST_BLACKHOLE_PORT);
  const cases: [string, string, Record<string, unknown>, string | null][] = [
    ["t_pg_ok", "postgres", pgConfig(), null],
    ["t_pg_dns", "postgres", pgConfig({ host: "no-such-host.invalid" }), "dns"],
    ["t_pg_refused", "postgres", pgConfig({ host: "127.0.0.1", port: 1 }), "refused"],
    ["t_pg_auth", "postgres", pgConfig({ user: "fstore_reader", password: "wrong" }), "auth"],
    ["t_pg_db", "postgres", pgConfig({ database: "no_such_database" }), "database"],
    ["t_pg_timeout", "postgres", pgConfig({ port: blackhole, connect_timeout: 1 }), "timeout"],
    ["t_my_ok", "mysql", mysqlConfig(), null],
    ["t_my_dns", "mysql", mysqlConfig({ host: "no-such-host.invalid" }), "dns"],
    ["t_my_refused", "mysql", mysqlConfig({ port: 1 }), "refused"],
    ["t_my_auth", "mysql", mysqlConfig({ user: "fstore_reader", password: "wrong" }), "auth"],
    ["t_my_db", "mysql", mysqlConfig({ database: "no_such_database" }), "database"],
    ["t_my_timeout", "mysql", mysqlConfig({ port: blackhole, connect_timeout: 1 }), "timeout"],
  ];
  for (const [name, type, config, kind] of cases) {
    it(`${type}: ${kind ?? "connects"}`, async () => {
      await createConnector(name, type, config);
      const result = await callJson("POST", `/api/v1/connectors/${name}/test`, 200);
      if (kind === null) {
        expect(result).toMatchObject({ ok: true, message: "connected" });
        expect(result.server).toMatch(type === "mysql" ? /MariaDB|^\d/ : /PostgreSQL/);
      } else {
        expect(result).toMatchObject({ ok: false, kind });
        expect(result.message).not.toContain("wrong");
      }
    });
  }
});
