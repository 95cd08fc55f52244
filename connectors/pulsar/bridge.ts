/**
 * The Pulsar bridge, over Pulsar's WebSocket consumer API (no native client needed): one WebSocket
 * per topic at `ws(s)://<web service>/ws/v2/consumer/persistent/{tenant}/{namespace}/{topic}/{subscription}
 * ?subscriptionType=...`. The broker pushes `{messageId, payload (base64), properties, publishTime,
 * eventTime?, key?}`; the bridge batches them (up to 500, or what arrived within 20 ms), forwards
 * them with ids `pulsar/{topic}/{messageId}` and acks each (`{"messageId": ...}`) only after the
 * Worker's 202. Messages never acked — the bridge died, the socket dropped — are redelivered by the
 * broker to the subscription; the Worker counts a redelivered id once. The token (secret) goes in
 * `Authorization: Bearer`.
 * FSTORE_STREAM_TYPES=pulsar `npm run stream` runs the loop for Pulsar connectors only (docs/bridges.md).
 */
import WebSocket from "ws";
import type { StreamEvent } from "../streams/forwarder.ts";
import type { BridgeConnector, SourceContext, SourceRunner } from "../streams/types.ts";

/** A message as Pulsar's WebSocket consumer endpoint sends it. */
export interface PulsarWsMessage {
  messageId: string;
  payload: string;
  properties?: Record<string, string>;
  publishTime?: string;
  eventTime?: string;
  key?: string;
  redeliveryCount?: number;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Pulsar's "2016-08-30 16:45:57.785" style times (no zone: read as UTC) or ISO; null when absent or 0. */
function pulsarTime(text: string | undefined): number | null {
  if (!text || text === "0") return null;
  const iso = /^\d{4}-\d\d-\d\d \d/.test(text) ? text.replace(" ", "T") : text;
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

/** Pulsar message → the contract's event: key, payload parsed when it is JSON, event time else publish time. */
export function pulsarEvent(topic: string, message: PulsarWsMessage): StreamEvent {
  const text = Buffer.from(message.payload ?? "", "base64").toString("utf8");
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // not JSON: forwarded as the string
  }
  const ts = pulsarTime(message.eventTime) ?? pulsarTime(message.publishTime);
  return { key: message.key ?? null, value, ...(ts === null ? {} : { timestamp: ts }), id: `pulsar/${topic}/${message.messageId}` };
}

/** The consumer endpoint of a topic (`name` or `persistent://tenant/ns/name`) for a connector's config. */
export function pulsarConsumerUrl(config: Record<string, unknown>, topic: string): string {
  let base = str(config.web_service_url);
  if (!base) {
    const service = new URL(str(config.service_url) ?? "pulsar://localhost:6650");
    base = `${service.protocol === "pulsar+ssl:" ? "https" : "http"}://${service.hostname}:8080`;
  }
  const web = new URL(base);
  const wsScheme = web.protocol === "https:" || web.protocol === "wss:" ? "wss:" : "ws:";
  const full = /^(persistent|non-persistent):\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(topic);
  const [domain, tenant, namespace, name] = full
    ? [full[1]!, full[2]!, full[3]!, full[4]!]
    : ["persistent", str(config.tenant) ?? "public", str(config.namespace) ?? "default", topic];
  const subscription = str(config.subscription_name);
  if (!subscription) throw new Error("subscription_name is empty");
  const query = new URLSearchParams({ subscriptionType: str(config.subscription_type) ?? "Shared", receiverQueueSize: "1000" });
  const prefix = web.pathname.replace(/\/+$/, "");
  const seg = encodeURIComponent;
  return `${wsScheme}//${web.host}${prefix}/ws/v2/consumer/${domain}/${seg(tenant)}/${seg(namespace)}/${seg(name)}/${seg(subscription)}?${query}`;
}

const LINGER_MS = 20;
const BATCH = 500;

/** One topic's WebSocket consumer, reconnecting with backoff. */
class TopicConsumer {
  private ws: WebSocket | null = null;
  private buffer: { socket: WebSocket; message: PulsarWsMessage }[] = [];
  private flushing: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private stopping = false;
  inFlight = 0;

  private readonly topic: string;
  private readonly url: string;
  private readonly token: string | undefined;
  private readonly ctx: SourceContext;

  constructor(topic: string, url: string, token: string | undefined, ctx: SourceContext) {
    this.topic = topic;
    this.url = url;
    this.token = token;
    this.ctx = ctx;
  }

  /** Resolves once the first connection is open (rejects if it fails: a wrong URL is reported at start). */
  open(): Promise<void> {
    return new Promise((resolve, reject) => this.connect(resolve, reject));
  }

  private connect(onOpen?: () => void, onFail?: (err: Error) => void): void {
    const socket = new WebSocket(this.url, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
    this.ws = socket;
    let opened = false;
    socket.on("open", () => {
      opened = true;
      onOpen?.();
    });
    const failed = (err: Error) => {
      if (!opened && onFail) {
        onFail(err);
        onFail = undefined;
        onOpen = undefined;
        socket.terminate();
      } else this.ctx.log(`stream: pulsar '${this.topic}': ${err.message}`);
    };
    socket.on("unexpected-response", (req, res) => {
      // A refused upgrade (401 for a wrong token, 404 for an unknown topic path): report its status.
      res.resume();
      req.destroy();
      failed(new Error(`the Pulsar WebSocket service answered HTTP ${res.statusCode} ${res.statusMessage ?? ""}`.trim()));
    });
    socket.on("message", (data) => {
      let message: PulsarWsMessage;
      try {
        message = JSON.parse(data.toString()) as PulsarWsMessage;
      } catch {
        return;
      }
      if (typeof message.messageId !== "string" || typeof message.payload !== "string") return; // acks' results, end-of-topic notices
      this.failures = 0;
      this.buffer.push({ socket, message });
      if (this.buffer.length >= BATCH) void this.flush();
      else if (!this.timer) this.timer = setTimeout(() => void this.flush(), LINGER_MS);
    });
    socket.on("error", failed);
    socket.on("close", () => {
      // Buffered messages of this socket are not acked: the broker redelivers them.
      this.buffer = this.buffer.filter((b) => b.socket !== socket);
      if (this.ws !== socket || this.stopping || !opened) return;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const delay = Math.min(250 * 2 ** this.failures, 30_000);
    this.failures++;
    this.ctx.log(`stream: pulsar '${this.topic}' disconnected; reconnecting in ${(delay / 1000).toFixed(2)} s`);
    this.reconnectTimer = setTimeout(() => {
      if (this.stopping) return;
      this.connect(undefined, () => this.scheduleReconnect());
    }, delay);
  }

  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      while (this.buffer.length > 0) {
        const taken = this.buffer.splice(0, BATCH);
        this.inFlight = taken.length;
        try {
          await this.ctx.forward(this.topic, taken.map((t) => pulsarEvent(this.topic, t.message)));
        } catch (err) {
          this.ctx.log(`stream: pulsar '${this.topic}': ${taken.length} message(s) not forwarded (${(err as Error).message}); not acked, the broker redelivers them`);
          return;
        } finally {
          this.inFlight = 0;
        }
        for (const t of taken) {
          // An ack only makes sense on the socket the message came on; a dropped one redelivers anyway.
          if (t.socket.readyState === WebSocket.OPEN) t.socket.send(JSON.stringify({ messageId: t.message.messageId }));
        }
      }
    })().finally(() => (this.flushing = null));
    return this.flushing;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.flush(); // the batch in flight and what already arrived: forwarded and acked
    const socket = this.ws;
    if (socket && socket.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.close(1000);
        setTimeout(() => {
          socket.terminate();
          resolve();
        }, 2000).unref();
      });
    } else socket?.terminate();
  }
}

export async function startPulsar(connector: BridgeConnector, topics: string[], ctx: SourceContext): Promise<SourceRunner> {
  const token = str(connector.config.token);
  const consumers = topics.map((t) => new TopicConsumer(t, pulsarConsumerUrl(connector.config, t), token, ctx));
  try {
    await Promise.all(consumers.map((c) => c.open()));
  } catch (err) {
    await Promise.all(consumers.map((c) => c.stop().catch(() => undefined)));
    throw err;
  }
  return {
    async stop() {
      await Promise.all(consumers.map((c) => c.stop()));
    },
    // The WebSocket API does not tell the backlog (the admin API does, with another scope of token).
    lag: () => Object.fromEntries(topics.map((t) => [t, null])),
  };
}

