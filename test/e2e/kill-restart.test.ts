/**
 * Batches are all or nothing even when the server dies mid-write: a real `wrangler dev` receives
 * many concurrent batches, is killed with SIGKILL (its whole process group: wrangler and workerd)
 * as soon as the first answer arrives — while the others are in flight — and is restarted on the
 * same local state. Every batch must then be stored whole or not at all, every batch that was
 * answered 200 must be there, and reads must work. The kill follows an event (the first answer),
 * never a clock.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, killServer, repoRoot, runWrangler, startWranglerDev, tail, waitForHttp, type ServerHandle } from "../../scripts/lib/wrangler.mjs";

const CYCLES = 5;
const BATCHES = 24;
const ITEMS = 400;

const dir = mkdtempSync(path.join(tmpdir(), "fstore-kill-"));
const persistTo = path.join(dir, "state");
const envFile = path.join(dir, ".dev.vars");
const logFile = path.join(dir, "wrangler-dev.log");
const adminKey = `fsk_kill_${randomBytes(18).toString("base64url")}`;
const config = path.join(repoRoot, "wrangler.toml");
let server: ServerHandle | null = null;

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<ServerHandle> {
  const handle = await startWranglerDev({ config, port: await freePort(), persistTo, envFile, logFile });
  await waitForHttp(handle, "/health", { logFile });
  return handle;
}

const api = (method: string, apiPath: string, body?: unknown) =>
  fetch(`${server?.url}${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Seconds of batch `b` of cycle `c`: each batch writes all its values at its own timestamp. */
const stampOf = (c: number, b: number) => new Date(Date.UTC(2024, 0, 1) + (c * 1000 + b) * 1000).toISOString();

describe("kill -9 of wrangler dev mid-batch, restart on the same state", () => {
  it("leaves every batch whole or absent, and every answered batch whole", async () => {
    writeFileSync(envFile, `FSTORE_EGRESS_ALLOW=loopback\nFSTORE_ADMIN_KEY=${adminKey}\nFSTORE_SECRET_KEY=${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
    await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, "--config", config], { logFile });
    server = await start();
    expect((await api("POST", "/api/v1/features", { name: "crash_value", entity_id: "crash", value_type: "json" })).status).toBe(201);

    const totals = { batches: 0, answered: 0, interrupted: 0, whole: 0, absent: 0, half: 0 };
    for (let c = 0; c < CYCLES; c++) {
      const answered: boolean[] = Array.from({ length: BATCHES }, () => false);
      let firstAnswer: () => void = () => {};
      const first = new Promise<void>((resolve) => (firstAnswer = resolve));
      const sends = Array.from({ length: BATCHES }, async (_, b) => {
        const items = Array.from({ length: ITEMS }, (_, k) => ({ feature_id: "crash_value", entity_id: `c${c}-b${b}-${k}`, value: { c, b, k }, timestamp: stampOf(c, b) }));
        try {
          const res = await api("POST", "/api/v1/features/batch", items);
          if (res.status === 200) answered[b] = true;
          await res.text();
          firstAnswer();
        } catch {
          // the server died under this request
        }
      });
      await first;
      expect(await killServer(server as ServerHandle), "the killed process group is gone").toBe(true);
      await Promise.all(sends);

      server = await start();
      for (let b = 0; b < BATCHES; b++) {
        const stamp = stampOf(c, b);
        const res = await api("GET", `/api/v1/features/crash_value/values?start=${stamp}&end=${stamp}&limit=10000`);
        expect(res.status, tail(logFile)).toBe(200);
        const stored = ((await res.json()) as { values: unknown[] }).values.length;
        totals.batches++;
        if (answered[b]) totals.answered++;
        else totals.interrupted++;
        if (stored === ITEMS) totals.whole++;
        else if (stored === 0) totals.absent++;
        else totals.half++;
        expect([0, ITEMS], `cycle ${c} batch ${b}: ${stored} of ${ITEMS} values stored`).toContain(stored);
        if (answered[b]) expect(stored, `cycle ${c} batch ${b} was answered 200`).toBe(ITEMS);
      }
      // Reads of what survived work after the restart.
      expect((await api("GET", `/api/v1/features/crash_value/values/c${c}-b0-0`)).status).not.toBeGreaterThanOrEqual(500);
    }
    console.log(
      `kill-restart: ${CYCLES} SIGKILLs mid-batch, ${totals.batches} batches of ${ITEMS} values: ${totals.answered} answered 200, ${totals.interrupted} cut off by the kill; ` +
        `after restart ${totals.whole} whole, ${totals.absent} absent, ${totals.half} half`,
    );
    expect(totals.half).toBe(0);
    expect(totals.interrupted, "some batches were in flight when the server was killed").toBeGreaterThan(0);
  }, 600_000);
});
