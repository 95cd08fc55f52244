/**
 * scripts/pgproxy.mjs, spoken to from workerd exactly as the Neon driver does (WebSocket at
 * /v2?address=host:port carrying raw Postgres bytes): it relays the protocol, ends the TCP
 * connection on Terminate or when the client closes, and refuses targets off its allow-list.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { withPgAdmin } from "./sql-helpers";

function startupMessage(app: string): Uint8Array {
  const params = `user\0postgres\0database\0${env.TEST_SQL_DATABASE}\0application_name\0${app}\0\0`;
  const body = new TextEncoder().encode(params);
  const msg = new Uint8Array(8 + body.length);
  const view = new DataView(msg.buffer);
  view.setInt32(0, msg.length);
  view.setInt32(4, 196608); // protocol 3.0
  msg.set(body, 8);
  return msg;
}

const TERMINATE = new Uint8Array([0x58, 0, 0, 0, 4]);

/** Opens a session through the proxy and resolves once Postgres says ReadyForQuery ('Z'). */
async function openSession(app: string) {
  const ws = new WebSocket(`ws://${env.TEST_PG_PROXY}?address=127.0.0.1:5432`);
  ws.binaryType = "arraybuffer";
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error("websocket failed")));
  });
  const ready = new Promise<void>((resolve) =>
    ws.addEventListener("message", (e) => {
      if (new Uint8Array(e.data as ArrayBuffer).includes(0x5a)) resolve();
    }),
  );
  ws.send(startupMessage(app));
  await ready;
  return { ws, closed };
}

const backends = (app: string) =>
  withPgAdmin(async (c) => Number((await c.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1", [app])).rows[0].n));

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("pgproxy", () => {
  it("relays a Postgres session and ends the TCP connection when the client sends Terminate", async () => {
    const { ws, closed } = await openSession("pgproxy_terminate");
    expect(await backends("pgproxy_terminate")).toBe(1);
    ws.send(TERMINATE);
    await closed; // the proxy closes the WebSocket itself
    await eventually(async () => (await backends("pgproxy_terminate")) === 0);
  });

  it("ends the TCP connection when the client closes the WebSocket without Terminate", async () => {
    const { ws } = await openSession("pgproxy_close");
    expect(await backends("pgproxy_close")).toBe(1);
    ws.close(1000);
    await eventually(async () => (await backends("pgproxy_close")) === 0);
  });

  it("refuses a target that is not on its allow-list", async () => {
    const ws = new WebSocket(`ws://${env.TEST_PG_PROXY}?address=127.0.0.1:3306`);
    const outcome = await new Promise<string>((resolve) => {
      ws.addEventListener("open", () => resolve("open"));
      ws.addEventListener("error", () => resolve("error"));
      ws.addEventListener("close", () => resolve("closed"));
    });
    expect(outcome).not.toBe("open");
  });
});
