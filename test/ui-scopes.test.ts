/**
 * The dashboard follows the key's scopes exactly as the API does: read keys see and do no
 * write/admin actions, write keys may run materializations, only admin keys test connectors and
 * manage keys. Hidden buttons are not the protection: each refused post is also tried directly.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { callJson, registerFeature } from "./helpers";
import { createConnector, pgConfig } from "./sql-helpers";
import { csrfOf, getPage, postForm, signIn } from "./ui-helpers";

const keyOf = async (name: string, scopes: string[]) => callJson<{ id: string; key: string }>("POST", "/api/v1/keys", 201, { body: { name, scopes } });
const runsOf = async (feature: string) => (await callJson<{ runs: { id: string }[] }>("GET", `/api/v1/features/${feature}/runs`, 200)).runs;
const activeKeys = async () => (await callJson<{ keys: { revoked_at: string | null }[] }>("GET", "/api/v1/keys", 200)).keys.filter((k) => k.revoked_at === null).length;

beforeAll(async () => {
  await createConnector("scope_pg", "postgres", pgConfig());
  await registerFeature({
    name: "scope_order_value",
    entity_id: "customer",
    connector: "scope_pg",
    query: "SELECT customer_id AS entity_id, order_value AS value, created_at AS timestamp FROM orders WHERE id <= 20",
  });
});

describe("dashboard scopes", () => {
  it("a read key sees no write or admin actions, and each is refused when posted anyway", async () => {
    const { key } = await keyOf("reader", ["read"]);
    const victim = await keyOf("victim", ["read"]);
    const cookie = await signIn(key);

    const features = await getPage("/ui/features", cookie);
    expect(features.status).toBe(200);
    expect(features.html).not.toContain('href="/ui/keys"');
    const feature = await getPage("/ui/features/scope_order_value", cookie);
    expect(feature.status).toBe(200);
    expect(feature.html).not.toContain("Run now");
    expect(feature.html).not.toContain("Test connection");
    const connectors = await getPage("/ui/connectors", cookie);
    expect(connectors.html).toContain("scope_pg");
    expect(connectors.html).not.toContain("Test connection");
    const keys = await getPage("/ui/keys", cookie);
    expect(keys.status).toBe(403);
    expect(keys.html).toContain("lacks the &#39;admin&#39; scope");

    const csrf = csrfOf(features.html);
    const keysBefore = await activeKeys();
    expect((await postForm("/ui/features/scope_order_value/materialize", cookie, { _csrf: csrf })).status).toBe(403);
    expect(await runsOf("scope_order_value")).toEqual([]);
    expect((await postForm("/ui/connectors/scope_pg/test", cookie, { _csrf: csrf })).status).toBe(403);
    expect((await postForm("/ui/keys", cookie, { _csrf: csrf, name: "escalated", scope: "admin" })).status).toBe(403);
    expect((await postForm(`/ui/keys/${victim.id}/revoke`, cookie, { _csrf: csrf })).status).toBe(403);
    expect(await activeKeys()).toBe(keysBefore);
  });

  it("a write key may run a materialization, but neither test connectors nor manage keys", async () => {
    const { key } = await keyOf("writer", ["write"]);
    const cookie = await signIn(key);
    const feature = await getPage("/ui/features/scope_order_value", cookie);
    expect(feature.html).toContain("Run now");
    expect(feature.html).not.toContain("Test connection");
    expect(feature.html).not.toContain('href="/ui/keys"');
    const csrf = csrfOf(feature.html);

    const run = await postForm("/ui/features/scope_order_value/materialize", cookie, { _csrf: csrf });
    expect(run.status).toBe(303);
    const location = run.headers.get("location") as string;
    expect(location).toMatch(/^\/ui\/runs\/[0-9a-f-]{36}$/);
    expect((await runsOf("scope_order_value")).map((r) => r.id)).toContain(location.split("/").pop());

    expect((await postForm("/ui/connectors/scope_pg/test", cookie, { _csrf: csrf })).status).toBe(403);
    expect((await getPage("/ui/keys", cookie)).status).toBe(403);
  });

  it("an admin key sees the keys page and tests connectors", async () => {
    const { key } = await keyOf("operator", ["admin"]);
    const cookie = await signIn(key);
    const connectors = await getPage("/ui/connectors", cookie);
    expect(connectors.html).toContain("Test connection");
    expect(connectors.html).toContain('href="/ui/keys"');
    const tested = await postForm("/ui/connectors/scope_pg/test", cookie, { _csrf: csrfOf(connectors.html) });
    expect(tested.status).toBe(200);
    expect(tested.html).toContain("Connection test of scope_pg: OK");
    expect((await getPage("/ui/keys", cookie)).status).toBe(200);
  });
});
