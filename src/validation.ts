/** The zod validation hook: every invalid request becomes one VALIDATION_FAILED error body. */
import type { Hook } from "@hono/zod-openapi";
import { ApiError, describeIssues } from "./errors";
import type { AppEnv } from "./env";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Hook is generic over every route's input and output
export const errorHook: Hook<any, AppEnv, any, any> = (result) => {
  if (result.success) return;
  const issues = describeIssues(result.error);
  const first = issues[0];
  const summary = first ? `${first.path ? `${first.path}: ` : ""}${first.message}` : "invalid request";
  throw new ApiError("VALIDATION_FAILED", `Invalid request: ${summary}`, issues);
};
