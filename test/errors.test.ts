/** One error body everywhere: malformed JSON, oversized bodies, unknown routes, unexpected failures. */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { ADMIN_KEY, call, registerFeature } from "./helpers";

describe("error bodies", () => {
  it("answers malformed JSON with 400 INVALID_JSON", async () => {
    await registerFeature({ name: "err_target" });
    for (const path of ["/api/v1/features/err_target/values", "/api/v1/features/batch", "/api/v1/features"]) {
      const res = await call("POST", path, { raw: '{"entity_id": "e1", "value": ' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "INVALID_JSON" } });
    }
  });

  it("answers a body that is not declared as JSON with 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    const res = await call("POST", "/api/v1/features/err_target/values", { raw: "entity_id=e1&value=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { code: "UNSUPPORTED_MEDIA_TYPE" } });
  });

  it("answers an oversized body with 413 PAYLOAD_TOO_LARGE", async () => {
    const res = await call("POST", "/api/v1/features/batch", { raw: `[${'{"feature_id":"x","entity_id":"e","value":1},'.repeat(300_000)}1]` });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
  });

  it("answers unknown routes and methods with 404 NOT_FOUND", async () => {
    for (const [method, path] of [
      ["GET", "/nope"],
      ["GET", "/api/v1/nothing-here"],
      ["PUT", "/api/v1/features/err_target"],
    ]) {
      const res = await call(method as string, path as string);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    }
  });

  it("answers an unexpected failure with a generic 500 and logs no internals or secrets", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const brokenDb = {
      prepare: () => {
        throw new Error("D1_ERROR: disk on fire at /var/lib/secret/path");
      },
    };
    const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
    const res = await worker.fetch(
      new Request("http://fstore.test/api/v1/features/err_target", { headers: { authorization: `Bearer ${ADMIN_KEY}` } }),
      { ...env, DB: brokenDb } as never,
      ctx,
    );
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "INTERNAL", message: "Internal server error" } });
    expect(text).not.toContain("disk on fire");
    const logs = logged.mock.calls.flat().join("\n");
    expect(logs).not.toContain(ADMIN_KEY);
    expect(logs).not.toMatch(/\n\s+at /); // no stack trace
    logged.mockRestore();
  });
});
