/**
 * No Pulsar broker can be had on the test machines, so the Pulsar bridge is tested against this
 * WebSocket server, which speaks Pulsar's documented WebSocket consumer protocol
 * (https://pulsar.apache.org/docs/client-libraries-websocket/): consumers connect to
 * `/ws/v2/consumer/persistent/{tenant}/{namespace}/{topic}/{subscription}?subscriptionType=...`
 * (with `Authorization: Bearer <token>` when a token is set), receive
 * `{messageId, payload (base64), properties, publishTime, eventTime?, key?, redeliveryCount}` and
 * acknowledge with `{"messageId": ...}`. Like a broker, it keeps each subscription's messages until
 * they are acked and redelivers the unacked ones of a consumer that went away; Shared subscriptions
 * spread messages over their consumers. It records every delivery and ack for the assertions.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

interface Message {
  messageId: string;
  payload: string;
  key?: string;
  publishTime: string;
  eventTime?: string;
  properties: Record<string, string>;
  redeliveryCount: number;
}

interface Subscription {
  pending: Message[];
  consumers: { socket: WebSocket; unacked: Map<string, Message> }[];
  next: number;
}

export class FakePulsar {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly subscriptions = new Map<string, Subscription>();
  private entry = 0;
  /** Every ack received: the message id and when. */
  readonly acks: { topic: string; messageId: string }[] = [];
  /** Deliveries that were redeliveries (redeliveryCount > 0). */
  redelivered = 0;
  /** Connections refused for a wrong or missing token. */
  unauthorized = 0;
  connections = 0;
  /** Acked messages per subscription key, for redeliverAcked. */
  private readonly acked = new Map<string, Message[]>();
  /** Runs on every ack (before it is applied). */
  onAck: ((topic: string, messageId: string) => void) | null = null;

  private readonly token: string;

  constructor(token: string) {
    this.token = token;
    this.http = createServer((_req, res) => res.writeHead(404).end());
    this.wss = new WebSocketServer({ noServer: true });
    this.http.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://x");
      const m = /^\/ws\/v2\/consumer\/persistent\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (!m) {
        socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
        return;
      }
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        this.unauthorized++;
        socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n");
        return;
      }
      const topic = `persistent://${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}/${decodeURIComponent(m[3]!)}`;
      const key = `${topic}|${decodeURIComponent(m[4]!)}`;
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(topic, key, ws));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private sub(key: string): Subscription {
    let s = this.subscriptions.get(key);
    if (!s) {
      s = { pending: [], consumers: [], next: 0 };
      this.subscriptions.set(key, s);
    }
    return s;
  }

  /** Publishes to a topic (`persistent://tenant/ns/name`): every subscription of it gets the message. */
  publish(topic: string, subscription: string, message: { key?: string; value: unknown; eventTime?: number }): void {
    this.entry++;
    // A MessageIdData-like id: ledger 7, entry n, as Pulsar's base64-encoded protobuf would be.
    const messageId = Buffer.from([0x08, 0x07, 0x10, ...varint(this.entry), 0x20, 0x00]).toString("base64");
    const now = new Date();
    const s = this.sub(`${topic}|${subscription}`);
    s.pending.push({
      messageId,
      payload: Buffer.from(JSON.stringify(message.value)).toString("base64"),
      key: message.key,
      publishTime: now.toISOString().replace("T", " ").replace("Z", ""),
      eventTime: message.eventTime === undefined ? undefined : new Date(message.eventTime).toISOString().replace("T", " ").replace("Z", ""),
      properties: {},
      redeliveryCount: 0,
    });
    this.dispatch(s);
  }

  /** Delivers every acked message of a subscription again, same message ids (as after a cursor reset). */
  redeliverAcked(topic: string, subscription: string): number {
    const key = `${topic}|${subscription}`;
    const again = (this.acked.get(key) ?? []).map((m) => ({ ...m, redeliveryCount: m.redeliveryCount + 1 }));
    this.acked.set(key, []);
    const s = this.sub(key);
    s.pending.push(...again);
    this.dispatch(s);
    return again.length;
  }

  /** Drops every consumer connection (as a broker restart would): their unacked messages go back to be redelivered. */
  dropConsumers(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  /** Messages not acked yet, per subscription key. */
  unackedCount(): number {
    let n = 0;
    for (const s of this.subscriptions.values()) n += s.pending.length + s.consumers.reduce((m, c) => m + c.unacked.size, 0);
    return n;
  }

  private attach(topic: string, key: string, ws: WebSocket): void {
    this.connections++;
    const s = this.sub(key);
    const consumer = { socket: ws, unacked: new Map<string, Message>() };
    s.consumers.push(consumer);
    ws.on("message", (data) => {
      let ack: { messageId?: string };
      try {
        ack = JSON.parse(data.toString()) as { messageId?: string };
      } catch {
        return;
      }
      if (typeof ack.messageId !== "string") return;
      this.onAck?.(topic, ack.messageId);
      const message = consumer.unacked.get(ack.messageId);
      if (message && consumer.unacked.delete(ack.messageId)) {
        this.acks.push({ topic, messageId: ack.messageId });
        this.acked.set(key, [...(this.acked.get(key) ?? []), message]);
      }
    });
    ws.on("close", () => {
      s.consumers = s.consumers.filter((c) => c !== consumer);
      // Unacked messages of a consumer that went away are redelivered, first in line.
      const back = [...consumer.unacked.values()].map((m) => ({ ...m, redeliveryCount: m.redeliveryCount + 1 }));
      s.pending.unshift(...back);
      this.dispatch(s);
    });
    this.dispatch(s);
  }

  private dispatch(s: Subscription): void {
    while (s.pending.length > 0 && s.consumers.length > 0) {
      const consumer = s.consumers[s.next++ % s.consumers.length]!;
      if (consumer.socket.readyState !== consumer.socket.OPEN) break;
      const m = s.pending.shift()!;
      if (m.redeliveryCount > 0) this.redelivered++;
      consumer.unacked.set(m.messageId, m);
      const { key, eventTime, ...rest } = m;
      consumer.socket.send(JSON.stringify({ ...rest, ...(key === undefined ? {} : { key }), ...(eventTime === undefined ? {} : { eventTime }) }));
    }
  }
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
