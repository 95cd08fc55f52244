/**
 * What one Worker invocation (a request, a queue batch, a cron tick) does with its bindings.
 * `instrument(env)` wraps KV, D1 and the jobs queue so that every call is counted and timed, and
 * enforces Cloudflare's limit of 1,000 KV operations per invocation (a bulk read of up to 100 keys
 * is one operation), which local workerd does not enforce: a path that would fail in production
 * fails here too, with a clear error, instead of passing in development.
 *
 * The counts feed the `Server-Timing` header (app.ts) and let long jobs ask how many KV
 * operations they may still spend (`kvOpsLeft`). Times are wall-clock spans of the waits (overlapping
 * calls count once). Note that in production a Worker's clock only advances across I/O, so phases
 * that are pure CPU (`encode`, ...) read 0 there; under `wrangler dev` they show real CPU time.
 */
import type { Bindings } from "./env";

/** Cloudflare's limit of operations to KV (and other services) per invocation. */
export const KV_OPS_PER_INVOCATION = 1000;

export class KvLimitError extends Error {
  constructor(op: string) {
    super(
      `KV ${op} refused: this invocation already made ${KV_OPS_PER_INVOCATION} KV operations, Cloudflare's limit per Worker invocation (FStore keeps every path under it; this is a bug)`,
    );
    this.name = "KvLimitError";
  }
}

/** A wall-clock span that counts overlapping calls once. */
class Span {
  ms = 0;
  private active = 0;
  private since = 0;

  begin(): void {
    if (this.active++ === 0) this.since = performance.now();
  }

  end(): void {
    if (--this.active === 0) this.ms += performance.now() - this.since;
  }

  async time<T>(work: () => Promise<T>): Promise<T> {
    this.begin();
    try {
      return await work();
    } finally {
      this.end();
    }
  }
}

export class Usage {
  /** Background work of this invocation (ExecutionContext.waitUntil), when it has one. */
  waitUntil?: (work: Promise<unknown>) => void;

  readonly kv = { span: new Span(), ops: 0, keysRead: 0, bytesRead: 0, writes: 0, bytesWritten: 0 };
  readonly d1 = { span: new Span(), queries: 0, rowsRead: 0, rowsWritten: 0 };
  readonly queue = { span: new Span(), sends: 0, messages: 0 };
  /** CPU phases named by the code (auth, registry, encode, ...). */
  readonly phases = new Map<string, number>();

  /** Times `work` as phase `name` (phases of the same name add up). */
  phase<T>(name: string, work: () => T): T {
    const t0 = performance.now();
    try {
      return work();
    } finally {
      this.phases.set(name, (this.phases.get(name) ?? 0) + performance.now() - t0);
    }
  }

  async phaseAsync<T>(name: string, work: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.phases.set(name, (this.phases.get(name) ?? 0) + performance.now() - t0);
    }
  }

  kvOp(op: string): void {
    if (this.kv.ops >= KV_OPS_PER_INVOCATION) throw new KvLimitError(op);
    this.kv.ops++;
  }

  get kvOpsLeft(): number {
    return KV_OPS_PER_INVOCATION - this.kv.ops;
  }
}

const usages = new WeakMap<object, Usage>();

/** The usage of an instrumented env; a fresh, unattached one for an env that was not instrumented. */
export function usageOf(env: Bindings): Usage {
  return usages.get(env) ?? new Usage();
}

/** KV operations this invocation may still make. */
export const kvOpsLeft = (env: Bindings) => usageOf(env).kvOpsLeft;

type KvGetOptions = string | { type?: string; cacheTtl?: number } | undefined;

function wrapKv(kv: KVNamespace, usage: Usage): KVNamespace {
  const { kv: k } = usage;
  const textLength = (v: unknown) => (typeof v === "string" ? v.length : 0);
  // JSON reads are made as text and parsed here, so the bytes read can be counted.
  const get = async (key: string | string[], options?: KvGetOptions) => {
    usage.kvOp("get");
    const type = typeof options === "string" ? options : options?.type;
    const asText = type === "json" ? (typeof options === "string" ? "text" : { ...options, type: "text" }) : options;
    const raw: unknown = await k.span.time(() => (kv.get as (k: unknown, o: unknown) => Promise<unknown>)(key, asText));
    const parse = (v: unknown) => (type === "json" && typeof v === "string" ? JSON.parse(v) : v);
    if (Array.isArray(key)) {
      k.keysRead += key.length;
      const out = new Map<string, unknown>();
      for (const [name, value] of raw as Map<string, unknown>) {
        k.bytesRead += textLength(value);
        out.set(name, parse(value));
      }
      return out;
    }
    k.keysRead++;
    k.bytesRead += raw instanceof ArrayBuffer ? raw.byteLength : textLength(raw);
    return parse(raw);
  };
  const write = (op: string, call: () => Promise<unknown>, bytes = 0) => {
    usage.kvOp(op);
    k.writes++;
    k.bytesWritten += bytes;
    return k.span.time(call);
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "get") return get;
      if (prop === "put") return (key: string, value: unknown, options?: KVNamespacePutOptions) =>
        write("put", () => target.put(key, value as string, options), textLength(value));
      if (prop === "delete") return (key: string) => write("delete", () => target.delete(key));
      if (prop === "list" || prop === "getWithMetadata") {
        return (...args: unknown[]) => {
          usage.kvOp(prop);
          return k.span.time(() => (target[prop] as (...a: unknown[]) => Promise<unknown>)(...args));
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function wrapD1(db: D1Database, usage: Usage): D1Database {
  const { d1 } = usage;
  const originals = new WeakMap<object, D1PreparedStatement>();
  const count = (result: unknown) => {
    const meta = (result as { meta?: Partial<D1Meta> } | null)?.meta;
    d1.rowsRead += meta?.rows_read ?? 0;
    d1.rowsWritten += meta?.rows_written ?? 0;
    return result;
  };
  const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrapStatement(target.bind(...values));
        if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
          return (...args: unknown[]) => {
            d1.queries++;
            return d1.span.time(async () => count(await (target[prop] as (...a: unknown[]) => Promise<unknown>)(...args)));
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    originals.set(proxy, statement);
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") return (query: string) => wrapStatement(target.prepare(query));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          d1.queries += statements.length;
          return d1.span.time(async () => {
            const results = await target.batch(statements.map((s) => originals.get(s) ?? s));
            for (const r of results) count(r);
            return results;
          });
        };
      }
      if (prop === "exec") return (query: string) => d1.span.time(() => target.exec(query));
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function wrapQueue(queue: Queue, usage: Usage): Queue {
  const { queue: q } = usage;
  return new Proxy(queue, {
    get(target, prop) {
      if (prop === "send") {
        return (body: unknown, options?: QueueSendOptions) => {
          q.sends++;
          q.messages++;
          return q.span.time(() => target.send(body, options));
        };
      }
      if (prop === "sendBatch") {
        return (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
          const list = [...messages];
          q.sends++;
          q.messages += list.length;
          return q.span.time(() => target.sendBatch(list, options));
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The env one invocation works with: the same bindings, counted, timed and held to the KV limit. */
export function instrument(env: Bindings, ctx?: { waitUntil(work: Promise<unknown>): void }): Bindings {
  const usage = new Usage();
  if (ctx) usage.waitUntil = (work) => ctx.waitUntil(work);
  const wrapped: Bindings = { ...env, ONLINE: wrapKv(env.ONLINE, usage), DB: wrapD1(env.DB, usage), JOBS: wrapQueue(env.JOBS, usage) };
  usages.set(wrapped, usage);
  return wrapped;
}

export interface Metric {
  name: string;
  ms: number;
  desc?: string;
}

/** What an invocation did, as `Server-Timing` metrics (auth, registry, kv, d1, queue, encode, ...). */
export function metrics(usage: Usage): Metric[] {
  const out: Metric[] = [...usage.phases].map(([name, ms]) => ({ name, ms }));
  const { kv, d1, queue } = usage;
  if (kv.ops > 0) {
    out.push({ name: "kv", ms: kv.span.ms, desc: `${kv.ops} ops, ${kv.keysRead} keys read (${kv.bytesRead} B), ${kv.writes} writes (${kv.bytesWritten} B)` });
  }
  if (d1.queries > 0) out.push({ name: "d1", ms: d1.span.ms, desc: `${d1.queries} statements, ${d1.rowsRead} rows read, ${d1.rowsWritten} rows written` });
  if (queue.sends > 0) out.push({ name: "queue", ms: queue.span.ms, desc: `${queue.messages} messages in ${queue.sends} sends` });
  return out;
}
