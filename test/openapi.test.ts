/** /openapi.json is generated from the zod schemas that validate requests; /docs renders it. */
import { describe, expect, it } from "vitest";
import { call } from "./helpers";

describe("API description", () => {
  it("serves an OpenAPI 3.1 document covering every route, without auth", async () => {
    const res = await call("GET", "/openapi.json", { key: null });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(expect.arrayContaining(
      [
        "/api/v1/features",
        "/api/v1/features/batch",
        "/api/v1/features/{id}",
        "/api/v1/features/{id}/values",
        "/api/v1/features/{id}/values/{entity_id}",
        "/api/v1/keys",
        "/api/v1/keys/{id}",
        "/health",
        "/api/v1/online-features",
        "/api/v1/historical-features",
        "/api/v1/feature-groups",
        "/api/v1/feature-groups/{name}",
        "/get-online-features",
        "/push",
        "/write-to-online-store",
      ].sort(),
    ));
    expect(Object.keys(doc.paths["/api/v1/features/{id}/values"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(doc.components.schemas).toHaveProperty("ValuePush");
    expect(doc.components.schemas).toHaveProperty("FeatureCreate");
  });

  it("serves an interactive API reference page", async () => {
    const res = await call("GET", "/docs", { key: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("/openapi.json");
  });
});
