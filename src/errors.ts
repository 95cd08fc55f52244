/**
 * One error type and one error body for the whole API:
 * `{"error": {"code", "message", "details"?}}`. The code decides the HTTP status.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { scrubMessage } from "../connectors/scrub";

const statusByCode = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  INVALID_VALUE: 400,
  INVALID_BATCH: 400,
  AMBIGUOUS_FEATURE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  FEATURE_NOT_FOUND: 404,
  VALUE_NOT_FOUND: 404,
  VALUE_EXPIRED: 404,
  KEY_NOT_FOUND: 404,
  CONNECTOR_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  CONFLICT: 409,
  RUN_IN_PROGRESS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL: 500,
  NOT_CONFIGURED: 503,
  SECRET_KEY_NOT_CONFIGURED: 503,
} as const;

export type ErrorCode = keyof typeof statusByCode;
export const errorCodes = Object.keys(statusByCode) as [ErrorCode, ...ErrorCode[]];

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get status() {
    return statusByCode[this.code];
  }
}

export function errorResponse(c: Context, err: ApiError) {
  const body = { error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } };
  return c.json(body, err.status);
}

/** zod issues as `{path, message}` pairs a client can act on. */
export function describeIssues(error: ZodError) {
  return error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}

/** `app.onError`: known errors keep their code; anything else is a generic 500. */
export function handleError(err: Error, c: Context) {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) {
    if (err.status === 413) return errorResponse(c, new ApiError("PAYLOAD_TOO_LARGE", err.message || "Request body too large"));
    if (err.status === 415) {
      return errorResponse(c, new ApiError("UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with 'Content-Type: application/json'"));
    }
    if (err.status === 400 && /json/i.test(err.message)) {
      return errorResponse(c, new ApiError("INVALID_JSON", "Request body is not valid JSON"));
    }
    if (err.status === 400) return errorResponse(c, new ApiError("BAD_REQUEST", err.message || "Bad request"));
  }
  // Name and message only (scrubbed of credentials): stacks and request data stay out of logs.
  console.error(`unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}: ${err.name}: ${scrubMessage(String(err.message))}`);
  return errorResponse(c, new ApiError("INTERNAL", "Internal server error"));
}
