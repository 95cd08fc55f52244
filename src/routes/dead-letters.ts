/**
 * Dead letters: `GET /api/v1/dead-letters` lists the messages that used up their retries on the
 * jobs and events queues (read), `GET .../{id}` shows one, `POST .../{id}/replay` sends it back to
 * its queue and `DELETE .../{id}` forgets it (admin). See src/jobs/dead-letters.ts.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import { deleteDeadLetter, getDeadLetter, listDeadLetters, replayDeadLetter } from "../jobs/dead-letters";
import { authErrors, errors, jsonResponse } from "../schemas/common";
import { errorHook } from "../validation";

const tags = ["dead letters"];
const security = [{ bearerAuth: [] }];

const DeadLetter = z
  .object({
    id: z.string(),
    queue: z.string().openapi({ description: "The queue the message failed on", example: "fstore-jobs" }),
    body: z.unknown().openapi({ description: "The message as it was sent" }),
    attempts: z.number().int(),
    sent_at: z.string(),
    received_at: z.string().openapi({ description: "When it reached the dead-letter queue" }),
    replayed_at: z.string().nullable(),
    replays: z.number().int(),
  })
  .openapi("DeadLetter");

const IdParam = z.object({ id: z.string().min(1).max(128).openapi({ param: { name: "id", in: "path" } }) });

export const deadLetterRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "get",
      path: "/dead-letters",
      tags,
      security,
      summary: "Messages that used up their retries on the jobs and events queues, newest first",
      middleware: [requireScope("read")] as const,
      request: {
        query: z.object({
          queue: z.enum(["fstore-jobs", "fstore-events"]).optional(),
          status: z.enum(["pending", "replayed"]).optional().openapi({ description: "pending: never replayed" }),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().regex(/^\d{1,16}:[^\s]{1,128}$/, "must be a next_cursor").optional(),
        }),
      },
      responses: { 200: jsonResponse(z.object({ dead_letters: z.array(DeadLetter), next_cursor: z.string().nullable() }), "One page"), 400: errors[400], ...authErrors },
    }),
    async (c) => {
      const page = await listDeadLetters(c.env.DB, c.req.valid("query"));
      return c.json({ dead_letters: page.deadLetters, next_cursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/dead-letters/{id}",
      tags,
      security,
      summary: "One dead letter",
      middleware: [requireScope("read")] as const,
      request: { params: IdParam },
      responses: { 200: jsonResponse(DeadLetter, "The dead letter"), 404: errors[404], ...authErrors },
    }),
    async (c) => c.json(await getDeadLetter(c.env.DB, c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/dead-letters/{id}/replay",
      tags,
      security,
      summary: "Send a dead letter back to the queue it failed on (admin)",
      middleware: [requireScope("admin")] as const,
      request: { params: IdParam },
      responses: { 200: jsonResponse(DeadLetter, "Sent again; replayed_at and replays updated"), 404: errors[404], ...authErrors },
    }),
    async (c) => c.json(await replayDeadLetter(c.env, c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/dead-letters/{id}",
      tags,
      security,
      summary: "Forget a dead letter (admin)",
      middleware: [requireScope("admin")] as const,
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, 404: errors[404], ...authErrors },
    }),
    async (c) => {
      await deleteDeadLetter(c.env.DB, c.req.valid("param").id);
      return c.body(null, 204);
    },
  );
