/** `GET /health`: no auth; says whether FStore can serve (admin key set, D1 reachable). */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { assertConfigured } from "../auth";
import type { AppEnv } from "../env";
import { errorHook } from "../validation";
import { ErrorBody, jsonResponse } from "../schemas/common";

const Health = z.object({ status: z.literal("ok"), version: z.string() }).openapi("Health");

export const VERSION = "0.1.0";

export const health = new OpenAPIHono<AppEnv>({ defaultHook: errorHook }).openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags: ["meta"],
    summary: "Liveness and configuration check (no auth)",
    responses: {
      200: jsonResponse(Health, "FStore can serve"),
      503: jsonResponse(ErrorBody, "Not configured or D1 unreachable"),
    },
  }),
  async (c) => {
    assertConfigured(c.env.FSTORE_ADMIN_KEY);
    await c.env.DB.prepare("SELECT 1").first();
    return c.json({ status: "ok" as const, version: VERSION }, 200);
  },
);
