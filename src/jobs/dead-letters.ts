/**
 * Dead letters: a message that fails every retry on `fstore-jobs` or `fstore-events` is moved by
 * Queues to that queue's dead-letter queue (wrangler.toml). The Worker consumes both dead-letter
 * queues into D1 (`dead_letters`), because a queue cannot be browsed: from there the API lists them
 * and sends one back to the queue it failed on (replay), after whatever made it fail was fixed.
 */
import type { Bindings } from "../env";
import { ApiError } from "../errors";

/** The queues whose dead letters are kept, by their dead-letter queue's name; the producer that replays into each. */
const ORIGINS: Record<string, { queue: string; producer: (env: Bindings) => Queue }> = {
  "fstore-jobs-dlq": { queue: "fstore-jobs", producer: (env) => env.JOBS },
  "fstore-events-dlq": { queue: "fstore-events", producer: (env) => env.EVENTS },
};

export const isDeadLetterQueue = (queue: string) => queue.endsWith("-dlq");

/** The message body as JSON text (bodies are sent as JSON; anything else is kept as its text). */
function bodyText(body: unknown): string {
  try {
    return JSON.stringify(body) ?? "null";
  } catch {
    return JSON.stringify(String(body));
  }
}

/** Consumer of the dead-letter queues: stores each message once, then acks it; a D1 failure retries it. */
export async function storeDeadLetters(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const queue = ORIGINS[batch.queue]?.queue ?? batch.queue.replace(/-dlq$/, "");
  const now = Date.now();
  for (const message of batch.messages) {
    try {
      await env.DB.prepare(
        `INSERT INTO dead_letters (id, queue, body, attempts, sent_at, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
           ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts`,
      )
        .bind(message.id, queue, bodyText(message.body), message.attempts, message.timestamp.getTime(), now)
        .run();
      console.error(`dead letter ${message.id} from ${queue} stored: see GET /api/v1/dead-letters`);
      message.ack();
    } catch (err) {
      console.error(`could not store dead letter ${message.id} from ${queue}: ${(err as Error).message}`);
      message.retry({ delaySeconds: 60 });
    }
  }
}

/**
 * Stores a message as a dead letter directly, for work that gave up on its own retries instead of
 * Queues' (a KV refresh refused MAX times): it is listed and replayed like the others.
 */
export async function storeDeadLetter(env: Bindings, queue: "fstore-jobs" | "fstore-events", body: unknown): Promise<void> {
  await deadLetterStatement(env.DB, queue, body).run();
  console.error(`a ${queue} job gave up after its retries and was stored as a dead letter: see GET /api/v1/dead-letters`);
}

/** The statement storing `body` as a dead letter, for a caller that commits it with its own transaction. */
export function deadLetterStatement(db: D1Database, queue: "fstore-jobs" | "fstore-events", body: unknown): D1PreparedStatement {
  return db.prepare("INSERT INTO dead_letters (id, queue, body, attempts, sent_at, received_at) VALUES (?1, ?2, ?3, 1, ?4, ?4)").bind(crypto.randomUUID(), queue, bodyText(body), Date.now());
}

export interface DeadLetter {
  id: string;
  queue: string;
  body: unknown;
  attempts: number;
  sent_at: string;
  received_at: string;
  replayed_at: string | null;
  replays: number;
}

interface Row {
  id: string;
  queue: string;
  body: string;
  attempts: number;
  sent_at: number;
  received_at: number;
  replayed_at: number | null;
  replays: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function toDeadLetter(r: Row): DeadLetter {
  let body: unknown;
  try {
    body = JSON.parse(r.body);
  } catch {
    body = r.body;
  }
  return { id: r.id, queue: r.queue, body, attempts: r.attempts, sent_at: iso(r.sent_at), received_at: iso(r.received_at), replayed_at: r.replayed_at === null ? null : iso(r.replayed_at), replays: r.replays };
}

export interface DeadLetterQuery {
  queue?: string;
  /** `pending`: never replayed; `replayed`: sent back at least once. */
  status?: "pending" | "replayed";
  limit: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}

/** Newest first, one page; the cursor is `<received_at>:<id>` of the last row. */
export async function listDeadLetters(db: D1Database, q: DeadLetterQuery): Promise<{ deadLetters: DeadLetter[]; nextCursor: string | null }> {
  const [at, id] = q.cursor ? [Number(q.cursor.slice(0, q.cursor.indexOf(":"))), q.cursor.slice(q.cursor.indexOf(":") + 1)] : [null, null];
  const { results } = await db
    .prepare(
      `SELECT * FROM dead_letters
        WHERE (?1 IS NULL OR queue = ?1)
          AND (?2 IS NULL OR (?2 = 'pending') = (replayed_at IS NULL))
          AND (?3 IS NULL OR received_at < ?3 OR (received_at = ?3 AND id < ?4))
        ORDER BY received_at DESC, id DESC LIMIT ?5`,
    )
    .bind(q.queue ?? null, q.status ?? null, at, id, q.limit + 1)
    .all<Row>();
  const page = results.slice(0, q.limit);
  const last = page.at(-1);
  return { deadLetters: page.map(toDeadLetter), nextCursor: results.length > q.limit && last ? `${last.received_at}:${last.id}` : null };
}

export async function getDeadLetter(db: D1Database, id: string): Promise<DeadLetter> {
  const row = await db.prepare("SELECT * FROM dead_letters WHERE id = ?1").bind(id).first<Row>();
  if (!row) throw new ApiError("NOT_FOUND", `no dead letter '${id}'`);
  return toDeadLetter(row);
}

/** Sends the message back to the queue it failed on (as a new message, with fresh retries) and records the replay. */
export async function replayDeadLetter(env: Bindings, id: string): Promise<DeadLetter> {
  const row = await env.DB.prepare("SELECT * FROM dead_letters WHERE id = ?1").bind(id).first<Row>();
  if (!row) throw new ApiError("NOT_FOUND", `no dead letter '${id}'`);
  const origin = Object.values(ORIGINS).find((o) => o.queue === row.queue);
  if (!origin) throw new ApiError("CONFLICT", `dead letter '${id}' came from queue '${row.queue}', which this Worker cannot send to`);
  await origin.producer(env).send(JSON.parse(row.body) as unknown, { contentType: "json" });
  await env.DB.prepare("UPDATE dead_letters SET replayed_at = ?2, replays = replays + 1 WHERE id = ?1").bind(id, Date.now()).run();
  return getDeadLetter(env.DB, id);
}

export async function deleteDeadLetter(db: D1Database, id: string): Promise<void> {
  const { meta } = await db.prepare("DELETE FROM dead_letters WHERE id = ?1").bind(id).run();
  if (meta.changes === 0) throw new ApiError("NOT_FOUND", `no dead letter '${id}'`);
}
