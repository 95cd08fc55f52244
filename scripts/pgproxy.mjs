#!/usr/bin/env node
/**
 * `npm run pgproxy`: a small WebSocket-to-TCP proxy speaking the protocol of Neon's wsproxy, so the
 * Neon serverless driver running in a Worker can reach any PostgreSQL (local development, tests,
 * or a self-hosted server behind TLS termination; see docs/connectors.md).
 *
 * A client opens a WebSocket at `/v2?address=host:port` (or `/v1`); every binary message is written
 * to the TCP connection and every TCP chunk comes back as one binary message. Only targets on the
 * allow-list are reached. The TCP connection ends when the client sends Postgres' Terminate message
 * ('X'), closes the WebSocket, or the server closes its side.
 *
 * Options (flags override environment):
 *   --host / PGPROXY_HOST    address to listen on (default 127.0.0.1)
 *   --port / PGPROXY_PORT    port to listen on (default 8787; 0 picks a free one)
 *   --allow / PGPROXY_ALLOW  comma-separated host:port targets (default 127.0.0.1:5432,localhost:5432)
 */
import { createServer } from "node:http";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "ws";

const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;

/**
 * Follows the frontend (client → server) side of the Postgres protocol just far enough to spot
 * Terminate. Before the startup message, messages are untyped (length + code); after it, each
 * message is a type byte + length. Once the stream turns into TLS nothing more can be read, and
 * the connection then ends only on close.
 */
export class FrontendTracker {
  constructor() {
    this.buffer = Buffer.alloc(0);
    this.startupDone = false;
    this.opaque = false;
    this.awaitingAnswer = false;
  }

  /** The server's first byte after an SSL/GSS request: 'N' means the session stays in clear. */
  serverAnswered(firstByte) {
    if (!this.awaitingAnswer) return;
    this.awaitingAnswer = false;
    if (firstByte === 0x4e /* 'N' */) {
      this.opaque = false;
      this.buffer = Buffer.alloc(0);
    }
  }

  /** Feeds client bytes; returns true once a Terminate message has been seen. */
  push(chunk) {
    if (this.opaque) return false;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : Buffer.from(chunk);
    for (;;) {
      if (!this.startupDone) {
        if (this.buffer.length < 8) return false;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) return false;
        const code = this.buffer.readInt32BE(4);
        this.buffer = this.buffer.subarray(length);
        if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
          // If the server accepts, the rest is encrypted and cannot be followed; if it answers
          // 'N' (see serverAnswered), the client goes on in clear with its startup message.
          this.opaque = true;
          this.awaitingAnswer = true;
          return false;
        }
        this.startupDone = true;
        continue;
      }
      if (this.buffer.length < 5) return false;
      const type = this.buffer[0];
      const length = this.buffer.readInt32BE(1);
      if (type === 0x58 /* 'X' */) return true;
      if (this.buffer.length < length + 1) return false;
      this.buffer = this.buffer.subarray(length + 1);
    }
  }
}

function parseAllow(text) {
  return new Set(
    String(text)
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * Starts the proxy. Resolves to { port, close() } once it listens. `log` receives one line per
 * connection event (never any bytes of the traffic).
 */
export function startPgProxy({ host = "127.0.0.1", port = 8787, allow = "127.0.0.1:5432,localhost:5432", log = () => {} } = {}) {
  const allowed = parseAllow(allow);
  const sockets = new Set();
  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket upgrade required: /v2?address=host:port\n");
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });

  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    const address = (url.searchParams.get("address") ?? "").toLowerCase();
    const refuse = (status, text) => {
      log(`refused ${address || "(no address)"}: ${text}`);
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== "/v1" && url.pathname !== "/v2") return refuse(404, "Not Found");
    const match = /^(.+):(\d+)$/.exec(address);
    if (!match) return refuse(400, "Bad Request");
    if (!allowed.has(address)) return refuse(403, "Forbidden");
    wss.handleUpgrade(req, socket, head, (ws) => relay(ws, match[1].replace(/^\[|\]$/g, ""), Number(match[2]), address));
  });

  function relay(ws, targetHost, targetPort, address) {
    const tcp = connect({ host: targetHost, port: targetPort });
    tcp.setNoDelay(true);
    sockets.add(tcp);
    const tracker = new FrontendTracker();
    let ended = false;
    const end = (why) => {
      if (ended) return;
      ended = true;
      log(`closed ${address}: ${why}`);
      tcp.end();
      // Give the kernel a moment to flush, then make sure the socket is really gone.
      setTimeout(() => tcp.destroy(), 1000).unref();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(1000);
    };
    log(`open ${address}`);
    ws.on("message", (data, isBinary) => {
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(isBinary ? data : String(data));
      if (ended) return;
      tcp.write(chunk);
      if (tracker.push(chunk)) end("client sent Terminate");
    });
    ws.on("close", () => end("client closed the WebSocket"));
    ws.on("error", () => end("WebSocket error"));
    tcp.on("data", (chunk) => {
      if (tracker.awaitingAnswer && chunk.length > 0) tracker.serverAnswered(chunk[0]);
      if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true });
    });
    tcp.on("error", (err) => {
      log(`tcp error ${address}: ${err.code ?? err.message}`);
      if (ws.readyState === ws.OPEN) ws.close(1011, String(err.code ?? "tcp error").slice(0, 100));
      ended = true;
    });
    tcp.on("close", () => {
      sockets.delete(tcp);
      if (ws.readyState === ws.OPEN) ws.close(1000);
    });
  }

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      resolve({
        port: actual,
        /** How many TCP connections to targets are open right now. */
        openConnections: () => sockets.size,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy();
            for (const client of wss.clients) client.terminate();
            server.close(() => done());
          }),
      });
    });
  });
}

function flag(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const host = flag("host") ?? process.env.PGPROXY_HOST ?? "127.0.0.1";
  const port = Number(flag("port") ?? process.env.PGPROXY_PORT ?? 8787);
  const allow = flag("allow") ?? process.env.PGPROXY_ALLOW ?? "127.0.0.1:5432,localhost:5432";
  const proxy = await startPgProxy({ host, port, allow, log: (line) => console.log(`pgproxy: ${line}`) });
  console.log(`pgproxy listening on ws://${host}:${proxy.port}/v2 — allowed targets: ${allow}`);
  console.log(`connector config: "ws_proxy": "${host}:${proxy.port}/v2"`);
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => proxy.close().then(() => process.exit(0)));
}
