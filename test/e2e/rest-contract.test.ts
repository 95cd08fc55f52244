/**
 * The guide's REST contract against a real `wrangler dev` over the network, as an external client
 * sees it: register, push with a Python `utcnow().isoformat()` timestamp, read back, and the
 * guide's status codes (200, 404 unknown feature, 400 bad payload).
 */
import { describe, expect, inject, it } from "vitest";

const url = inject("e2eUrl");
const headers = { authorization: `Bearer ${inject("e2eAdminKey")}`, "content-type": "application/json" };

async function send(method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

describe("REST contract over the network (wrangler dev)", () => {
  it("pushes a value with a Python isoformat() timestamp and reads it back", async () => {
    expect((await send("POST", "/api/v1/features", { name: "e2e_purchase_amount", entity_id: "customer" })).status).toBe(201);
    const pushed = await send("POST", "/api/v1/features/e2e_purchase_amount/values", { entity_id: "customer_123", value: 99.99, timestamp: "2024-02-20T22:39:38.123456" });
    expect(pushed.status).toBe(200);
    const read = await send("GET", "/api/v1/features/e2e_purchase_amount/values/customer_123");
    expect(read).toEqual({ status: 200, body: expect.objectContaining({ value: 99.99, timestamp: "2024-02-20T22:39:38.123456Z" }) });
  });

  it("answers 404 for an unknown feature and 400 for a bad payload", async () => {
    expect((await send("POST", "/api/v1/features/no_such_feature/values", { entity_id: "c", value: 1 })).status).toBe(404);
    const bad = await send("POST", "/api/v1/features/e2e_purchase_amount/values", { entity_id: "c", value: "not a number" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("INVALID_VALUE");
  });

  it("refuses a request without a key", async () => {
    const res = await fetch(`${url}/api/v1/features`);
    expect(res.status).toBe(401);
  });
});
