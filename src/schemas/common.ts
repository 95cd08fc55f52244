/** zod schemas shared by several routes; the same schemas validate requests and build /openapi.json. */
import { z } from "@hono/zod-openapi";
import { errorCodes } from "../errors";
import { checkEntityId, MAX_ENTITY_ID_BYTES } from "../ingest/rules";
import { parseTimestamp } from "../time";

/** Feature, group and entity-type names: letters, digits, `_` and `-`; no dots or slashes. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;
export const Name = z.string().regex(NAME_PATTERN, "must start with a letter and contain only letters, digits, '_' or '-' (at most 128 characters)");

/** An entity id as writes accept it (ingest/rules.ts); reads refuse what could never have been written. */
export const EntityId = z
  .string()
  .superRefine((id, ctx) => {
    const problem = checkEntityId(id);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({
    example: "customer_123",
    minLength: 1,
    maxLength: MAX_ENTITY_ID_BYTES,
    description: `1 to ${MAX_ENTITY_ID_BYTES} bytes of UTF-8 (256 ASCII characters), no control characters, not '.' or '..'`,
  });

export const Timestamp = z
  .string()
  .refine((s) => parseTimestamp(s) !== null, {
    message: "timestamp must be ISO 8601 / RFC 3339, e.g. 2024-02-20T22:39:38Z or 2024-02-20T22:39:38.123456 (no zone = UTC)",
  })
  .openapi({ example: "2024-02-20T22:39:38.123456" });

export const FeatureValue = z
  .unknown()
  .refine((v) => v !== undefined, { message: "value is required" })
  .openapi({ description: "A value of the feature's value_type (number, integer, string, bool, array of numbers, any JSON) or null", example: 99.99 });

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(errorCodes),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: ErrorBody } } });

/** The error responses every authenticated route can give. */
export const authErrors = {
  401: errorResponse("Missing or unknown API key"),
  403: errorResponse("The key lacks the scope this route needs"),
  503: errorResponse("No admin key configured: FStore refuses to serve"),
} as const;

export const errors = {
  400: errorResponse("Invalid request"),
  404: errorResponse("Not found"),
  409: errorResponse("Conflict"),
  413: errorResponse("Request body too large"),
  415: errorResponse("Body is not JSON"),
} as const;

export const jsonBody = <T extends z.ZodType>(schema: T, description?: string) => ({
  required: true,
  description,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
