/**
 * The two ways the Postgres connector reaches a server, against the real local PostgreSQL: the
 * guide's config exactly as written over a direct TCP socket (node-postgres; no proxy), the same
 * through a Hyperdrive binding, and Neon's WebSocket driver through the pgproxy. Same reads, same
 * read-only guarantees; and a WebSocket that cannot be opened says what to do about it.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, registerFeature } from "./helpers";
import { createConnector, latest, materialize, pgConfig, purchases, sumBy, withPgAdmin } from "./sql-helpers";

/** The guide's "Exemplo PostgreSQL" config shape: host, port, database, user, password — nothing else. */
const guideConfig = { host: "127.0.0.1", port: 5432, database: env.TEST_SQL_DATABASE, user: "postgres", password: "" };
const expected = sumBy(purchases, (p) => p.customer, (p) => p.cents);

beforeAll(async () => {
  await createConnector("pgt_tcp", "postgres", guideConfig);
  await createConnector("pgt_hyperdrive", "postgres", { hyperdrive: "TEST_HYPERDRIVE" });
  await createConnector("pgt_ws", "postgres", pgConfig());
});

describe("postgres transports", () => {
  it.each(["pgt_tcp", "pgt_hyperdrive", "pgt_ws"])("%s: the connection test connects and names the server", async (name) => {
    const result = await callJson("POST", `/api/v1/connectors/${name}/test`, 200);
    expect(result).toMatchObject({ ok: true, message: "connected" });
    expect(result.server).toMatch(/^PostgreSQL \d+/);
  });

  it.each(["pgt_tcp", "pgt_hyperdrive", "pgt_ws"])("%s: runs the guide's query and serves the same values", async (name) => {
    const feature = `${name}_total_purchases`;
    await registerFeature({ name: feature, entity_id: "customer", feature_group: `${name}_g`, connector: name, query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id" });
    expect(await materialize(feature)).toMatchObject({ status: "succeeded", rows_read: 25, rows_written: 25 });
    for (const customer of [1, 13, 25]) expect((await latest(feature, customer)).value).toBe((expected.get(customer) as number) / 100);
  });

  it.each(["pgt_tcp", "pgt_hyperdrive", "pgt_ws"])("%s: a query that writes is refused and the source is untouched", async (name) => {
    await withPgAdmin((c) => c.query("CREATE TABLE IF NOT EXISTS transport_victim (id int); TRUNCATE transport_victim; INSERT INTO transport_victim VALUES (1), (2)"));
    for (const [i, query] of ["SELECT 'c1' AS entity_id, 1 AS value; COMMIT; DELETE FROM transport_victim", "DELETE FROM transport_victim", "SELECT 1 AS entity_id, purge_orders() AS value"].entries()) {
      const feature = `${name}_attack_${i}`;
      await registerFeature({ name: feature, connector: name, query });
      const run = await materialize(feature);
      expect(run.status).toBe("failed");
      expect(run.error).toBeTruthy();
    }
    expect(await withPgAdmin(async (c) => Number((await c.query("SELECT count(*) AS n FROM transport_victim")).rows[0].n))).toBe(2);
    expect(await withPgAdmin(async (c) => Number((await c.query("SELECT count(*) AS n FROM orders")).rows[0].n))).toBe(600);
  });

  it("a wrong password over TCP is an authentication error that does not echo the password", async () => {
    await createConnector("pgt_tcp_wrong_pw", "postgres", { ...guideConfig, user: "fstore_reader", password: "not-the-password" });
    const result = await callJson("POST", "/api/v1/connectors/pgt_tcp_wrong_pw/test", 200);
    expect(result).toMatchObject({ ok: false, kind: "auth" });
    expect(JSON.stringify(result)).not.toContain("not-the-password");
  });

  it("a closed port over TCP is 'refused', and a test never speaks of a run", async () => {
    await createConnector("pgt_tcp_closed", "postgres", { ...guideConfig, port: 1 });
    const result = await callJson("POST", "/api/v1/connectors/pgt_tcp_closed/test", 200);
    expect(result.ok).toBe(false);
    expect(result.kind).toBe("refused");
    expect(result.message).not.toMatch(/mid-run|\bthe run\b/i);
  });

  it("the websocket transport with no proxy listening names ws_proxy and npm run pgproxy", async () => {
    await createConnector("pgt_ws_no_proxy", "postgres", pgConfig({ ws_proxy: "127.0.0.1:1/v2" }));
    const result = await callJson("POST", "/api/v1/connectors/pgt_ws_no_proxy/test", 200);
    expect(result).toMatchObject({ ok: false, kind: "refused" });
    expect(result.message).toContain("ws_proxy");
    expect(result.message).toContain("npm run pgproxy");
    expect(result.message).not.toMatch(/mid-run/);
  });

  it("refuses (400) a connector naming a Hyperdrive binding the Worker does not have, storing nothing", async () => {
    const res = await call("POST", "/api/v1/connectors", { body: { name: "pgt_no_binding", type: "postgres", config: { hyperdrive: "NO_SUCH_BINDING" } } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("no Hyperdrive binding 'NO_SUCH_BINDING'");
    expect((await call("GET", "/api/v1/connectors/pgt_no_binding")).status).toBe(404);
  });

  it("refuses (400) a config without host/database/user and without a Hyperdrive binding", async () => {
    const res = await call("POST", "/api/v1/connectors", { body: { name: "pgt_incomplete", type: "postgres", config: { port: 5432 } } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain("config.host");
  });
});
