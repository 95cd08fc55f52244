/** Bearer keys with scopes: the matrix of who may call what, key management, and refusing to serve unconfigured. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { ADMIN_KEY, call, callJson, createKey, registerFeature } from "./helpers";

type Scope = "read" | "write" | "admin";

/** Every route and the scope it needs. */
const routes: { method: string; path: string; body?: unknown; needs: Scope }[] = [
  { method: "GET", path: "/api/v1/features", needs: "read" },
  { method: "GET", path: "/api/v1/features/auth_target", needs: "read" },
  { method: "GET", path: "/api/v1/features/auth_target/values", needs: "read" },
  { method: "GET", path: "/api/v1/features/auth_target/values/e1", needs: "read" },
  { method: "POST", path: "/api/v1/features/auth_target/values", body: { entity_id: "e1", value: 1, timestamp: "2024-01-01T00:00:00Z" }, needs: "write" },
  { method: "POST", path: "/api/v1/features/batch", body: [{ feature_id: "auth_target", entity_id: "e1", value: 1, timestamp: "2024-01-01T00:00:00Z" }], needs: "write" },
  { method: "POST", path: "/api/v1/features", body: { name: "auth_created" }, needs: "write" },
  { method: "PATCH", path: "/api/v1/features/auth_target", body: { description: "x" }, needs: "write" },
  // Defining or changing a feature bound to a source reads the connector's data: admin (docs/api.md#scopes).
  { method: "POST", path: "/api/v1/features", body: { name: "auth_sql_created", connector: "auth_pg", query: "SELECT 1, 2" }, needs: "admin" },
  { method: "POST", path: "/api/v1/features", body: { name: "auth_file_created", path: "x/*.csv" }, needs: "admin" },
  { method: "POST", path: "/api/v1/features", body: { name: "auth_stream_created", topic: "events" }, needs: "admin" },
  { method: "PATCH", path: "/api/v1/features/auth_sql_target", body: { description: "x" }, needs: "admin" },
  { method: "PATCH", path: "/api/v1/features/auth_sql_target", body: { query: "SELECT 'a', 1" }, needs: "admin" },
  { method: "DELETE", path: "/api/v1/features/auth_doomed", needs: "admin" },
  { method: "GET", path: "/api/v1/keys", needs: "admin" },
  { method: "POST", path: "/api/v1/keys", body: { name: "k", scopes: ["read"] }, needs: "admin" },
  { method: "DELETE", path: "/api/v1/keys/no-such-key", needs: "admin" },
  { method: "PATCH", path: "/api/v1/features/auth_target", body: { connector: "auth_pg", query: "SELECT 1, 2" }, needs: "admin" },
];

const rank: Record<Scope, number> = { read: 0, write: 1, admin: 2 };

describe("auth matrix", () => {
  it("answers 401 without a key and for an unknown key on every route", async () => {
    for (const r of routes) {
      const none = await call(r.method, r.path, { body: r.body, key: null });
      expect(none.status, `${r.method} ${r.path} without key`).toBe(401);
      expect(await none.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
      const unknown = await call(r.method, r.path, { body: r.body, key: "fsk_unknown_key_that_was_never_issued" });
      expect(unknown.status, `${r.method} ${r.path} unknown key`).toBe(401);
    }
    const malformed = await call("GET", "/api/v1/features", { key: null, headers: { authorization: `Basic ${ADMIN_KEY}` } });
    expect(malformed.status).toBe(401);
  });

  it("gives each scope exactly its routes (read < write < admin)", async () => {
    await registerFeature({ name: "auth_target" });
    await callJson("POST", "/api/v1/connectors", 201, { body: { name: "auth_pg", type: "postgres", config: { host: "127.0.0.1", database: "d", user: "u" } } });
    await registerFeature({ name: "auth_sql_target", connector: "auth_pg", query: "SELECT 1, 2" });
    const keys: Record<Scope, string> = { read: await createKey(["read"]), write: await createKey(["write"]), admin: await createKey(["admin"]) };
    for (const scope of ["read", "write", "admin"] as const) {
      for (const r of routes) {
        if (r.path.endsWith("auth_doomed")) await registerFeature({ name: "auth_doomed" }).catch(() => undefined);
        const res = await call(r.method, r.path, { body: r.body, key: keys[scope] });
        const allowed = rank[scope] >= rank[r.needs];
        if (allowed) expect([200, 201, 204, 404, 409], `${scope} on ${r.method} ${r.path}`).toContain(res.status);
        else {
          expect(res.status, `${scope} on ${r.method} ${r.path}`).toBe(403);
          const { error } = (await res.json()) as { error: { code: string; details: { required: Scope } } };
          expect(error.code).toBe("FORBIDDEN");
          // The scope named is one the key lacks (a read key hears 'write' before the body is looked at).
          expect(rank[error.details.required], `${scope} on ${r.method} ${r.path}`).toBeGreaterThan(rank[scope]);
        }
        if (r.path === "/api/v1/features" && r.method === "POST" && res.status === 201) await call("DELETE", `/api/v1/features/${(r.body as { name: string }).name}`);
      }
    }
  });
});

describe("API keys", () => {
  it("creates a key shown once, lists keys without secrets, and revokes", async () => {
    const created = await callJson("POST", "/api/v1/keys", 201, { body: { name: "ingest", scopes: ["write"] } });
    expect(created.key).toMatch(/^fsk_/);
    expect(created).toMatchObject({ name: "ingest", scopes: ["write"], revoked_at: null });

    await callJson("GET", "/api/v1/features", 200, { key: created.key });
    const list = await callJson("GET", "/api/v1/keys", 200);
    const listed = list.keys.find((k: { id: string }) => k.id === created.id);
    expect(listed).toMatchObject({ name: "ingest", scopes: ["write"] });
    expect(JSON.stringify(list)).not.toContain(created.key);

    const stored = await env.DB.prepare("SELECT hash FROM api_keys WHERE id = ?").bind(created.id).first<{ hash: string }>();
    expect(stored?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored?.hash).not.toContain(created.key);

    expect((await call("DELETE", `/api/v1/keys/${created.id}`)).status).toBe(204);
    expect((await call("GET", "/api/v1/features", { key: created.key })).status).toBe(401);
    expect((await call("DELETE", "/api/v1/keys/never-existed")).status).toBe(404);
  });

  it("rejects a key request with an unknown scope", async () => {
    expect((await call("POST", "/api/v1/keys", { body: { name: "x", scopes: ["superuser"] } })).status).toBe(400);
  });
});

describe("a deployment without an admin key", () => {
  const unconfigured = (path: string, headers: Record<string, string> = {}) => {
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    return worker.fetch(new Request(`http://fstore.test${path}`, { headers }), { ...env, FSTORE_ADMIN_KEY: undefined } as never, ctx);
  };

  it("refuses to serve with 503 and says how to set one", async () => {
    for (const path of ["/api/v1/features", "/health"]) {
      const res = await unconfigured(path, { authorization: `Bearer ${ADMIN_KEY}` });
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("NOT_CONFIGURED");
      expect(body.error.message).toContain("FSTORE_ADMIN_KEY");
    }
  });
});
