/**
 * The bridges' side of the HTTP contract with the Worker (docs/bridges.md): reads the stream
 * subscriptions (`GET /api/v1/streams`) and forwards events (`POST /api/v1/streams/{topic}/events`),
 * resolving only once it is safe to commit a Kafka offset / ack a Pulsar message.
 *
 * What each answer means for the batch (and so for the offsets behind it):
 * - 202: durably on the Worker's Queue: commit.
 * - 400 naming bad indexes: those events are logged (index and reason, never their values) and
 *   dropped; the rest is sent again; then commit. A 400 that names no index drops the whole chunk
 *   (logged): a record FStore refuses would otherwise stop its partition forever.
 * - 404: no stream feature reads the topic any more: commit, and the caller re-reads the subscriptions.
 * - 413: the chunk is split in halves and each half sent; a single event too large is dropped (logged).
 * - 401/403: the key is wrong or lacks the `write` scope: a FatalError, nothing committed, the
 *   bridge stops (no retry can fix it).
 * - 408, 429, 5xx, no answer: retried with exponential backoff (0.25 s doubling to 30 s), forever
 *   unless the bridge is stopping — then the batch is abandoned uncommitted and will be redelivered.
 * - any other 4xx: logged and dropped (commit), like a 400 without indexes.
 * Connects only to the Worker; runs in Node (bridges, `npm run stream`, the SDK's startStreamingFeature).
 */

/** One event of the contract. */
export interface StreamEvent {
  key: string | null;
  value: unknown;
  timestamp?: number | string;
  id?: string;
}

export interface StreamSubscription {
  topic: string;
  connector: { name: string; type: string; config: Record<string, unknown>; secret_fields: string[] } | null;
  features: string[];
  stats?: Record<string, unknown>;
}

export type Log = (line: string) => void;

/** The Worker refused the bridge itself (bad key, missing scope): stop, retrying cannot help. */
export class FatalError extends Error {}

/** The bridge is stopping: the batch was not forwarded and must not be committed. */
export class StoppedError extends Error {}

/** Largest request a bridge sends (the Worker takes up to 5,000). */
export const MAX_EVENTS_PER_REQUEST = 500;

export interface ForwardResult {
  /** Events the Worker accepted (202). */
  accepted: number;
  /** Events dropped after a 4xx (logged). */
  dropped: number;
  /** The Worker answered 404: no feature reads this topic any more. */
  gone: boolean;
}

export interface WorkerApiOptions {
  url: string;
  apiKey?: string;
  log: Log;
  fetch?: typeof fetch;
  /** First retry delay; doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/** Event indexes a 400 names: any `index` number, or a numeric first `path` element, in its details. */
export function badIndexes(body: unknown, count: number): Map<number, string> {
  const found = new Map<number, string>();
  const visit = (node: unknown, depth: number): void => {
    if (depth > 6 || node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, depth + 1);
      return;
    }
    const o = node as Record<string, unknown>;
    const listed = Array.isArray(o.errors)
      ? o.errors.map((e: unknown) => (typeof e === "string" ? e : [(e as { path?: unknown })?.path, (e as { message?: unknown })?.message].filter((x) => typeof x === "string" && x !== "").join(": "))).join("; ")
      : "";
    const reason = listed || (typeof o.message === "string" ? o.message : typeof o.error === "string" ? o.error : typeof o.reason === "string" ? o.reason : "refused");
    const index = typeof o.index === "number" ? o.index : Array.isArray(o.path) && typeof o.path[0] === "number" ? o.path[0] : undefined;
    if (index !== undefined && Number.isInteger(index) && index >= 0 && index < count) {
      if (!found.has(index)) found.set(index, reason);
      return;
    }
    for (const [k, v] of Object.entries(o)) if (k !== "message") visit(v, depth + 1);
  };
  visit((body as { error?: unknown })?.error ?? body, 0);
  return found;
}

export class WorkerApi {
  readonly url: string;
  private readonly apiKey: string | undefined;
  private readonly log: Log;
  private readonly fetcher: typeof fetch;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** Aborted when the bridge stops: retries end, the batch stays uncommitted. */
  readonly stopping = new AbortController();

  constructor(options: WorkerApiOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.log = options.log;
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    this.minBackoffMs = options.minBackoffMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await this.fetcher(`${this.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (a proxy's page): kept as text for the log
    }
    return { status: res.status, body: parsed };
  }

  private static messageOf(body: unknown): string {
    const error = (body as { error?: { code?: string; message?: string } })?.error;
    return error ? `${error.code ?? ""} ${error.message ?? ""}`.trim() : String(typeof body === "string" ? body : JSON.stringify(body)).slice(0, 200);
  }

  /** The stream subscriptions; retried like a forward (a Worker that is down is waited for) until `signal` aborts. */
  async streams(signal?: AbortSignal): Promise<StreamSubscription[]> {
    return this.withRetry<StreamSubscription[]>("GET /api/v1/streams", signal, async () => {
      const r = await this.call("GET", "/api/v1/streams");
      if (r.status === 200) return { done: (r.body as { streams: StreamSubscription[] }).streams };
      if (r.status >= 400 && r.status < 500 && ![401, 403, 408, 429].includes(r.status)) {
        throw new FatalError(`GET /api/v1/streams: FStore answered ${r.status} (${WorkerApi.messageOf(r.body)}): is ${this.url} an FStore with streaming?`);
      }
      return { status: r.status, body: r.body };
    });
  }

  /**
   * Forwards events of one topic, in requests of at most 500, and resolves once every event was
   * accepted or dropped (see the file's comment): then the offsets behind them may be committed.
   * Throws StoppedError when the bridge stops first, FatalError on 401/403.
   */
  async forward(topic: string, events: StreamEvent[]): Promise<ForwardResult> {
    const total: ForwardResult = { accepted: 0, dropped: 0, gone: false };
    for (let i = 0; i < events.length; i += MAX_EVENTS_PER_REQUEST) {
      const r = await this.forwardChunk(topic, events.slice(i, i + MAX_EVENTS_PER_REQUEST));
      total.accepted += r.accepted;
      total.dropped += r.dropped;
      if (r.gone) {
        total.gone = true;
        break; // the rest goes nowhere either
      }
    }
    return total;
  }

  private async forwardChunk(topic: string, events: StreamEvent[]): Promise<ForwardResult> {
    if (events.length === 0) return { accepted: 0, dropped: 0, gone: false };
    const path = `/api/v1/streams/${encodeURIComponent(topic)}/events`;
    const answer = await this.withRetry<{ status: number; body: unknown }>(`POST ${path}`, undefined, async () => {
      const r = await this.call("POST", path, events);
      if ([202, 400, 404, 413].includes(r.status)) return { done: r };
      return { status: r.status, body: r.body };
    });
    const ids = (list: StreamEvent[]) => list.map((e) => e.id ?? "(no id)").slice(0, 5).join(", ") + (list.length > 5 ? ", ..." : "");
    switch (answer.status) {
      case 202:
        return { accepted: (answer.body as { accepted?: number })?.accepted ?? events.length, dropped: 0, gone: false };
      case 404:
        this.log(`stream: topic '${topic}' is read by no stream feature any more (404): ${events.length} event(s) committed without being applied`);
        return { accepted: 0, dropped: events.length, gone: true };
      case 413: {
        if (events.length === 1) {
          this.log(`stream: FStore refused event ${ids(events)} of '${topic}' as too large (413); dropped`);
          return { accepted: 0, dropped: 1, gone: false };
        }
        const half = Math.ceil(events.length / 2);
        const a = await this.forwardChunk(topic, events.slice(0, half));
        if (a.gone) return a;
        const b = await this.forwardChunk(topic, events.slice(half));
        return { accepted: a.accepted + b.accepted, dropped: a.dropped + b.dropped, gone: b.gone };
      }
      default: {
        // 400: drop the events it names, send the others again.
        const bad = badIndexes(answer.body, events.length);
        if (bad.size === 0) {
          this.log(`stream: FStore refused a batch of ${events.length} event(s) of '${topic}' (${answer.status} ${WorkerApi.messageOf(answer.body)}) without naming events; dropped: ${ids(events)}`);
          return { accepted: 0, dropped: events.length, gone: false };
        }
        for (const [index, reason] of bad) this.log(`stream: FStore refused event ${events[index]?.id ?? `#${index}`} of '${topic}' (${reason}); dropped`);
        const rest = events.filter((_, i) => !bad.has(i));
        const r = await this.forwardChunk(topic, rest);
        return { ...r, dropped: r.dropped + bad.size };
      }
    }
  }

  /** Runs `attempt` until it is done; retries 408/429/5xx and network errors with backoff. */
  private async withRetry<T>(what: string, signal: AbortSignal | undefined, attempt: () => Promise<{ done: T } | { status: number; body: unknown }>): Promise<T> {
    let delay = this.minBackoffMs;
    const stop = signal ? AbortSignal.any([signal, this.stopping.signal]) : this.stopping.signal;
    for (let tries = 1; ; tries++) {
      if (stop.aborted) throw new StoppedError(`${what}: stopping`);
      let problem: string;
      try {
        const r = await attempt();
        if ("done" in r) {
          if (tries > 1) this.log(`stream: ${what} succeeded after ${tries} attempts`);
          return r.done;
        }
        if (r.status === 401 || r.status === 403) {
          throw new FatalError(`${what}: FStore answered ${r.status} (${WorkerApi.messageOf(r.body)}): check FSTORE_KEY (the bridge needs the read and write scopes)`);
        }
        if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
          // Not retriable and not a batch answer: report it like a refused batch.
          return { status: r.status, body: r.body } as T;
        }
        problem = `HTTP ${r.status} ${WorkerApi.messageOf(r.body)}`;
      } catch (err) {
        if (err instanceof FatalError) throw err;
        const cause = (err as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
        problem = cause?.code ?? cause?.errors?.[0]?.code ?? (err as Error).message;
      }
      this.log(`stream: ${what} failed (${problem}); retry ${tries} in ${(delay / 1000).toFixed(2)} s`);
      await sleep(delay, stop);
      delay = Math.min(delay * 2, this.maxBackoffMs);
    }
  }
}
