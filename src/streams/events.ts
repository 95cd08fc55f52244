/**
 * Stream events as `POST /api/v1/streams/{topic}/events` takes them, and how they travel on the
 * `events` queue. Every event is checked here before anything is enqueued (the limits of
 * ingest/rules.ts, plus Queues' 128 KB per message), so a batch is all accepted or all refused.
 * What each feature makes of an event (entity, value, time) is decided later by the consumer:
 * several features may read one topic differently.
 */
import { z } from "@hono/zod-openapi";
import { checkJsonShape, isWellFormed } from "../ingest/rules";
import { inRange, msToMicros, parseTimestamp } from "../time";

/** Events per request (bridges send at most 500). */
export const MAX_EVENTS_PER_REQUEST = 5000;
/** Longest event id, in UTF-8 bytes. */
export const MAX_EVENT_ID_BYTES = 256;
/** Longest record key, in UTF-8 bytes (a key used as an entity id must also pass the entity rules). */
export const MAX_KEY_BYTES = 1024;
/**
 * Largest event, as JSON: a Queues message holds at most 128 KB, and one event must fit one message
 * with its envelope (topic, arrival time).
 */
export const MAX_EVENT_BYTES = 120 * 1024;
/** Queues: at most 128 KB per message; events are packed into messages of at most this many bytes. */
export const MESSAGE_BYTES = 124 * 1024;
/** Queues: at most 100 messages and 256 KB per sendBatch. */
export const SEND_BATCH_MESSAGES = 100;
export const SEND_BATCH_BYTES = 250 * 1024;

const encoder = new TextEncoder();
const utf8 = (s: string) => encoder.encode(s).byteLength;

/** One event as the endpoint documents it. */
export const StreamEvent = z
  .object({
    key: z.string().nullable().optional().openapi({ description: "The record key (the entity id unless the feature sets entity_field)", example: "user_42" }),
    value: z.unknown().openapi({ description: "The record payload: any JSON (parsed if it was JSON, else the string)", example: { session_data: { duration: 31.5 } } }),
    timestamp: z
      .union([z.number(), z.string()])
      .optional()
      .openapi({ description: "Event time: milliseconds since the epoch, or ISO 8601 / RFC 3339. Default: the arrival time", example: 1732873200000 }),
    id: z.string().optional().openapi({ description: `Event id (at most ${MAX_EVENT_ID_BYTES} UTF-8 bytes): an event whose id was already applied on this topic is not applied again`, example: "kafka/user_events/0/42" }),
  })
  .openapi("StreamEvent");
export type StreamEvent = z.infer<typeof StreamEvent>;

/** An accepted event as it will travel, with its size as JSON (what packs it into messages). */
export interface CheckedEvent {
  event: QueuedEvent;
  bytes: number;
}

/** One event checked: as it will travel, or why it cannot be accepted (the path and the problem, for each problem). */
export function checkEvent(raw: unknown): CheckedEvent | { path: string; message: string }[] {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return [{ path: "", message: "an event must be an object {key, value, timestamp?, id?}" }];
  const e = raw as Record<string, unknown>;
  const problems: { path: string; message: string }[] = [];
  if (e.key !== undefined && e.key !== null) {
    if (typeof e.key !== "string") problems.push({ path: "key", message: "key must be a string or null" });
    else if (!isWellFormed(e.key)) problems.push({ path: "key", message: "key must be valid Unicode text" });
    else if (e.key.length > MAX_KEY_BYTES || utf8(e.key) > MAX_KEY_BYTES) problems.push({ path: "key", message: `key must be at most ${MAX_KEY_BYTES} bytes of UTF-8` });
  }
  if (!("value" in e) || e.value === undefined) problems.push({ path: "value", message: "value is required (null for none)" });
  else {
    const shape = checkJsonShape(e.value);
    if (shape) problems.push({ path: "value", message: shape });
  }
  if (e.timestamp !== undefined && eventTimeMs(e.timestamp) === null) {
    problems.push({ path: "timestamp", message: "timestamp must be milliseconds since the epoch or an ISO 8601 date-time between 0001-01-01 and 9999-12-31" });
  }
  if (e.id !== undefined) {
    if (typeof e.id !== "string" || e.id === "") problems.push({ path: "id", message: "id must be a non-empty string" });
    else if (!isWellFormed(e.id)) problems.push({ path: "id", message: "id must be valid Unicode text" });
    else if (e.id.length > MAX_EVENT_ID_BYTES || utf8(e.id) > MAX_EVENT_ID_BYTES) problems.push({ path: "id", message: `id must be at most ${MAX_EVENT_ID_BYTES} bytes of UTF-8` });
  }
  if (problems.length > 0) return problems;
  const event = compact(e);
  const bytes = utf8(JSON.stringify(event));
  if (bytes > MAX_EVENT_BYTES) return [{ path: "", message: `an event may be at most ${MAX_EVENT_BYTES / 1024} KiB as JSON (one Queues message holds 128 KB)` }];
  return { event, bytes };
}

/** An event's time in ms since the epoch: a number (ms) or an RFC 3339 text; null when neither. */
export function eventTimeMs(raw: unknown): number | null {
  if (typeof raw === "number") return Number.isFinite(raw) && inRange(msToMicros(raw)) ? Math.round(raw) : null;
  if (typeof raw !== "string") return null;
  const us = parseTimestamp(raw);
  return us === null ? null : Number(us / 1000n);
}

/** An event as it travels: only its four fields, its time in ms. */
export interface QueuedEvent {
  key: string | null;
  value: unknown;
  ts?: number;
  id?: string;
}

function compact(e: Record<string, unknown>): QueuedEvent {
  const out: QueuedEvent = { key: (e.key as string | null | undefined) ?? null, value: e.value };
  if (e.timestamp !== undefined) out.ts = eventTimeMs(e.timestamp) as number;
  if (e.id !== undefined) out.id = e.id as string;
  return out;
}

/** A message on the `events` queue: events of one topic that arrived together. */
export const EventsMessage = z.object({
  type: z.literal("events"),
  topic: z.string().min(1),
  /** When the Worker accepted them (ms): the event time of events without one. */
  arrived: z.number(),
  events: z.array(z.object({ key: z.string().nullable(), value: z.unknown(), ts: z.number().optional(), id: z.string().optional() })),
});
export type EventsMessage = z.infer<typeof EventsMessage>;

/** Packs checked events into messages of at most MESSAGE_BYTES each. */
export function packMessages(topic: string, events: CheckedEvent[], arrived: number): { body: EventsMessage; bytes: number }[] {
  const envelope = utf8(JSON.stringify({ type: "events", topic, arrived, events: [] }));
  const messages: { body: EventsMessage; bytes: number }[] = [];
  let current: QueuedEvent[] = [];
  let bytes = envelope;
  for (const { event, bytes: eventBytes } of events) {
    const size = eventBytes + 1;
    if (current.length > 0 && bytes + size > MESSAGE_BYTES) {
      messages.push({ body: { type: "events", topic, arrived, events: current }, bytes });
      current = [];
      bytes = envelope;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) messages.push({ body: { type: "events", topic, arrived, events: current }, bytes });
  return messages;
}

/** Sends messages in as few sendBatch calls as Queues' limits allow (100 messages, 256 KB each). */
export async function sendMessages(queue: Queue, messages: { body: unknown; bytes: number }[], delaySeconds?: number): Promise<void> {
  let pending: MessageSendRequest[] = [];
  let bytes = 0;
  const options = delaySeconds === undefined ? undefined : { delaySeconds };
  for (const m of messages) {
    if (pending.length > 0 && (pending.length >= SEND_BATCH_MESSAGES || bytes + m.bytes > SEND_BATCH_BYTES)) {
      await queue.sendBatch(pending, options);
      pending = [];
      bytes = 0;
    }
    pending.push({ body: m.body, contentType: "json" });
    bytes += m.bytes;
  }
  if (pending.length > 0) await queue.sendBatch(pending, options);
}
