/** Admin-only API key management: create (the key is shown once), list, revoke. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { forgetCachedKeys, generateKey, requireScope } from "../auth";
import { apiKeys } from "../db/schema";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { authErrors, errors, jsonBody, jsonResponse } from "../schemas/common";
import { errorHook } from "../validation";

const tags = ["keys"];
const security = [{ bearerAuth: [] }];
const admin = requireScope("admin");

const KeyCreate = z
  .object({
    name: z.string().min(1).max(128).openapi({ example: "ingest-service" }),
    scopes: z.array(z.enum(["read", "write", "admin"])).min(1).openapi({ example: ["write"] }),
  })
  .strict()
  .openapi("KeyCreate");

const KeyInfo = z
  .object({ id: z.string(), name: z.string(), scopes: z.array(z.string()), created_at: z.string(), revoked_at: z.string().nullable() })
  .openapi("KeyInfo");
const CreatedKey = KeyInfo.extend({ key: z.string().openapi({ description: "The secret key. Shown only in this response." }) }).openapi("CreatedKey");

const toInfo = (row: typeof apiKeys.$inferSelect) => ({
  id: row.id,
  name: row.name,
  scopes: row.scopes,
  created_at: new Date(row.createdAt).toISOString(),
  revoked_at: row.revokedAt === null ? null : new Date(row.revokedAt).toISOString(),
});

export const keyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/keys",
      tags,
      security,
      summary: "Create an API key (admin)",
      middleware: admin,
      request: { body: jsonBody(KeyCreate) },
      responses: { 201: jsonResponse(CreatedKey, "Created; store the key now"), 400: errors[400], ...authErrors },
    }),
    async (c) => {
      const { name, scopes } = c.req.valid("json");
      const { id, key, hash } = await generateKey();
      const [row] = await drizzle(c.env.DB)
        .insert(apiKeys)
        .values({ id, name, hash, scopes: [...new Set(scopes)], createdAt: Date.now() })
        .returning();
      return c.json({ ...toInfo(row as typeof apiKeys.$inferSelect), key }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/keys",
      tags,
      security,
      summary: "List API keys (admin; secrets are never shown)",
      middleware: admin,
      responses: { 200: jsonResponse(z.object({ keys: z.array(KeyInfo) }), "All keys"), ...authErrors },
    }),
    async (c) => {
      const rows = await drizzle(c.env.DB).select().from(apiKeys).orderBy(asc(apiKeys.createdAt)).all();
      return c.json({ keys: rows.map(toInfo) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/keys/{id}",
      tags,
      security,
      summary: "Revoke an API key (admin)",
      middleware: admin,
      request: { params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) }) },
      responses: { 204: { description: "Revoked" }, 404: errors[404], ...authErrors },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const revoked = await drizzle(c.env.DB).update(apiKeys).set({ revokedAt: Date.now() }).where(eq(apiKeys.id, id)).returning();
      if (revoked.length === 0) throw new ApiError("KEY_NOT_FOUND", `API key '${id}' not found`);
      forgetCachedKeys();
      return c.body(null, 204);
    },
  );
