/**
 * Streams: `POST /api/v1/streams/{topic}/events` takes events from any producer (the Kafka and
 * Pulsar bridges among them) and answers 202 once they are durably on the `events` queue;
 * `GET /api/v1/streams` tells the bridges what to subscribe to. docs/streaming.md.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { batchError, type ItemError } from "../ingest/write";
import { usageOf } from "../invocation";
import { authErrors, errors, jsonBody, jsonResponse } from "../schemas/common";
import { checkEvent, MAX_EVENTS_PER_REQUEST, packMessages, sendMessages, StreamEvent, type CheckedEvent } from "../streams/events";
import { listStreams, streamFeaturesOf } from "../streams/registry";
import { errorHook } from "../validation";

const tags = ["streams"];
const security = [{ bearerAuth: [] }];

const TopicParam = z.object({
  topic: z
    .string()
    .min(1)
    .max(256)
    .openapi({ param: { name: "topic", in: "path" }, description: "The topic, URL-encoded (persistent%3A%2F%2Fpublic%2Fdefault%2Fx)", example: "user_events" }),
});

const Accepted = z.object({ accepted: z.number().int() }).openapi("EventsAccepted");

const Stats = z
  .object({
    events: z.number().int().openapi({ description: "Events applied" }),
    late_events: z.number().int().openapi({ description: "Events older than the watermark minus allowed_lateness: not applied" }),
    duplicates: z.number().int().openapi({ description: "Events whose id was already applied" }),
    rejected: z.number().int().openapi({ description: "Events a feature could not read (no entity, a value of the wrong type): dead-lettered" }),
    last_event_time: z.string().nullable(),
    last_applied_at: z.string().nullable(),
  })
  .openapi("StreamStats");

const Stream = z
  .object({
    topic: z.string(),
    connector: z
      .object({ name: z.string(), type: z.string(), config: z.record(z.string(), z.unknown()), secret_fields: z.array(z.string()) })
      .nullable()
      .openapi({ description: "The connector the features name (non-secret config only), or null: fed over HTTP only" }),
    features: z.array(z.string()),
    stats: Stats,
  })
  .openapi("Stream");

/** A body's events checked: as they will travel, or the problems by index; null when the body is not an array at all. */
function checkEvents(raw: unknown): { events: CheckedEvent[]; errs: ItemError[] } | null {
  if (!Array.isArray(raw)) return null;
  const events: CheckedEvent[] = [];
  const errs: ItemError[] = [];
  raw.forEach((event, index) => {
    const checked = checkEvent(event);
    if (Array.isArray(checked)) errs.push({ index, errors: checked });
    else events.push(checked);
  });
  return { events, errs };
}

export const streamRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/streams/{topic}/events",
      tags,
      security,
      summary: `Send stream events (up to ${MAX_EVENTS_PER_REQUEST.toLocaleString("en")} per request); 202 once they are on the events queue`,
      description:
        "Every stream feature reading the topic applies each event (docs/streaming.md). Any bad event is a 400 naming each bad index, and nothing is enqueued. 404 when no stream feature reads the topic. An event with an `id` already applied on this topic is not applied again (exactly-once effect); events without an id are applied at least once.",
      middleware: [requireScope("write")] as const,
      request: { params: TopicParam, body: jsonBody(z.array(StreamEvent), "A JSON array of events") },
      responses: { 202: jsonResponse(Accepted, "Enqueued"), 400: errors[400], 404: errors[404], 413: errors[413], ...authErrors },
    }),
    async (c) => {
      const { topic } = c.req.valid("param");
      const events = c.req.valid("json") as unknown[];
      if (events.length > MAX_EVENTS_PER_REQUEST) throw new ApiError("VALIDATION_FAILED", `at most ${MAX_EVENTS_PER_REQUEST} events per request (got ${events.length}); send them in several requests`);
      // Checked again as a whole: the schema lets any value through, the rules do not.
      const { events: checked, errs } = checkEvents(events) as { events: CheckedEvent[]; errs: ItemError[] };
      if (errs.length > 0) throw streamBatchError(errs, events.length);
      const features = await usageOf(c.env).phaseAsync("registry", () => streamFeaturesOf(c.env.DB, topic));
      if (features.length === 0) throw new ApiError("NOT_FOUND", `no stream feature reads topic '${topic}'`, { topic });
      const messages = packMessages(topic, checked, Date.now());
      await usageOf(c.env).phaseAsync("queue", () => sendMessages(c.env.EVENTS, messages));
      return c.json({ accepted: events.length }, 202);
    },
    async (result, c) => {
      if (result.success) return;
      if (result.target !== "json") return errorHook(result, c);
      const raw = (result as { data?: unknown }).data;
      const errs = checkEvents(raw)?.errs;
      if (errs && errs.length > 0) throw streamBatchError(errs, (raw as unknown[]).length);
      const issue = result.error.issues[0];
      throw new ApiError("VALIDATION_FAILED", `Invalid request: ${issue ? `${issue.path.map(String).join(".") || "body"}: ${issue.message}` : "the body must be a JSON array of events"}`);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/streams",
      tags,
      security,
      summary: "The streams the bridges subscribe to: one entry per (connector, topic), with its features and counters",
      description: "Connector secrets are never returned: `secret_fields` names them, and a bridge takes them from its environment as FSTORE_SECRET_<CONNECTOR>_<FIELD>.",
      middleware: [requireScope("read")] as const,
      responses: { 200: jsonResponse(z.object({ streams: z.array(Stream) }).openapi("StreamList"), "The streams"), ...authErrors },
    }),
    async (c) => c.json({ streams: await listStreams(c.env.DB) }, 200),
  );

function streamBatchError(errs: ItemError[], total: number): ApiError {
  const e = batchError(errs, total);
  return new ApiError("INVALID_BATCH", `${errs.length} of ${total} events are invalid; nothing was enqueued`, e.details);
}
