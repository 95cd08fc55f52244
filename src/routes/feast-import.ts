/**
 * `POST /api/v1/feast/import`: a Feast project's entities and feature views, as JSON or YAML
 * (Content-Type application/yaml or text/yaml), registered as FStore features in one D1 batch
 * (registry/feast-import.ts). Imported features are push features, so the scope is what
 * `scopeToDefine` asks of a push feature (write).
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { parse as parseYaml } from "yaml";
import { assertScope, requireScope, scopeToDefine } from "../auth";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { FeastProject, importFeastProject } from "../registry/feast-import";
import { authErrors, errors, jsonResponse } from "../schemas/common";
import { errorHook } from "../validation";

const ImportResult = z
  .object({
    project: z.string(),
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    features: z.array(z.string()).openapi({ description: "Every feature of the import, as group:name" }),
  })
  .openapi("FeastImportResult");

const YAML_TYPES = ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"];

/** The body as JSON or YAML, by its Content-Type. */
function parseDescription(contentType: string | undefined, text: string): unknown {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (YAML_TYPES.includes(type)) {
    try {
      // The YAML core schema: plain data only; aliases are capped by the library (maxAliasCount).
      return parseYaml(text, { maxAliasCount: 100 });
    } catch (err) {
      throw new ApiError("BAD_REQUEST", `body is not valid YAML: ${String((err as Error).message).split("\n")[0]}`);
    }
  }
  if (type === "application/json" || type === "") {
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError("INVALID_JSON", "Request body is not valid JSON");
    }
  }
  throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `send the project as application/json or application/yaml (text/yaml), not '${type}'`);
}

export const feastImportRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook });

// Parsed by hand (JSON or YAML by Content-Type); the document below shows the same schema.
feastImportRoutes.post("/feast/import", requireScope("write"), async (c) => {
  // An import defines push features only (no query, path or topic): the scope a push feature needs.
  assertScope(c, scopeToDefine({}), "import feature definitions");
  const update = c.req.query("update");
  if (update !== undefined && update !== "true" && update !== "false") throw new ApiError("VALIDATION_FAILED", "update must be true or false", { issues: [{ path: "update", message: "must be true or false" }] });
  // Decoded by hand: workerd warns on .text() of a YAML body, and a body that is not UTF-8 is a 400.
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(await c.req.arrayBuffer());
  } catch {
    throw new ApiError("BAD_REQUEST", "body is not UTF-8 text");
  }
  const raw = parseDescription(c.req.header("content-type"), text);
  const result = await importFeastProject(c.env.DB, raw, update === "true");
  return c.json(result, result.created > 0 ? 201 : 200);
});

feastImportRoutes.openAPIRegistry.registerPath({
  method: "post",
  path: "/feast/import",
  tags: ["feast"],
  security: [{ bearerAuth: [] }],
  summary: "Import a Feast project's entities and feature views as features, all or nothing (write)",
  description:
    "JSON or YAML (Content-Type application/yaml or text/yaml). Each feature view becomes a feature group (its name), keyed by its entity's join key; each schema field a push feature. One D1 batch: a 400 names every bad field path before anything is written. Importing the same description again is a 200 with everything `unchanged`; a feature whose definition differs is a 409 unless `?update=true`.",
  request: {
    query: z.object({ update: z.enum(["true", "false"]).default("false").openapi({ description: "Change existing features whose definition differs" }) }),
    body: { required: true, content: { "application/json": { schema: FeastProject }, "application/yaml": { schema: FeastProject } } },
  },
  responses: {
    200: jsonResponse(ImportResult, "Nothing new: every feature already existed (or was updated)"),
    201: jsonResponse(ImportResult, "Features created"),
    400: errors[400],
    409: errors[409],
    415: errors[415],
    ...authErrors,
  },
});
