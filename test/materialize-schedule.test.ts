/**
 * Scheduled materialization: the cron handler (createScheduledController) finds due SQL features,
 * enqueues one `materialize` job each on the jobs queue, the queue consumer runs it and the
 * values become visible over HTTP. Also: not due again before its frequency, the lease keeps runs
 * from overlapping, failures back off, and `POST /materialize` without wait goes through the queue.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../src/index";
import { callJson, registerFeature } from "./helpers";
import { createConnector, latest, pgConfig, purchases, sumBy, type Run } from "./sql-helpers";

const PG = "sched_pg";

async function tick(at = Date.now()) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function runsOf(feature: string): Promise<Run[]> {
  return (await callJson<{ runs: Run[] }>("GET", `/api/v1/features/${feature}/runs`, 200)).runs;
}

/** Waits for the queue consumer (driven by the jobs queue itself) to finish a run. */
async function waitForRun(feature: string, count = 1, timeoutMs = 20_000): Promise<Run[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = await runsOf(feature);
    if (runs.length >= count && runs.slice(0, count).every((r) => r.status === "succeeded" || r.status === "failed")) return runs;
    if (Date.now() > deadline) throw new Error(`runs of ${feature} not finished: ${JSON.stringify(runs)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const schedule = (feature: string) =>
  env.DB.prepare("SELECT s.* FROM feature_schedules s JOIN features f ON f.id = s.feature_id WHERE f.name = ?1")
    .bind(feature)
    .first<{ next_run_at: number; failures: number; lease_run_id: string | null; watermark: string | null }>();

beforeAll(async () => {
  await createConnector(PG, "postgres", pgConfig());
});

describe("scheduled materialization", () => {
  it("cron tick → jobs queue → consumer → values visible over HTTP; not due again for its frequency", async () => {
    await registerFeature({
      name: "sched_total_purchases",
      entity_id: "customer",
      feature_group: "sched_customer",
      connector: PG,
      query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id",
      update_frequency: "1h",
    });
    await tick();
    const [run] = await waitForRun("sched_total_purchases");
    expect(run).toMatchObject({ status: "succeeded", trigger: "schedule", rows_read: 25, rows_written: 25 });
    const expected = sumBy(purchases, (p) => p.customer, (p) => p.cents);
    expect((await latest("sched_total_purchases", 11)).value).toBe((expected.get(11) as number) / 100);
    // The online vector was refreshed too.
    const vector = (await env.ONLINE.get("v3:sched_customer:11", "json")) as { f: Record<string, unknown> } | null;
    expect(Object.keys(vector?.f ?? {})).toHaveLength(1);

    const state = await schedule("sched_total_purchases");
    expect(state?.lease_run_id).toBeNull();
    expect(state!.next_run_at - Date.parse((run as Run & { started_at: string }).started_at)).toBe(3_600_000);
    await tick();
    await tick(Date.now() + 30 * 60_000);
    expect(await runsOf("sched_total_purchases")).toHaveLength(1);
    await tick(Date.now() + 61 * 60_000);
    const runs = await waitForRun("sched_total_purchases", 2);
    // The query has no timestamp column: each run observes the values at its own time, so the
    // second run writes them again with its time and latest moves forward (TTLs stay fresh).
    expect(runs[0]).toMatchObject({ status: "succeeded", rows_unchanged: 0, rows_written: 25 });
    expect(Date.parse((await latest("sched_total_purchases", 11)).timestamp)).toBe(Date.parse((runs[0] as Run & { started_at: string }).started_at));
  });

  it("a cron schedule is due at its next occurrence after registration, not before", async () => {
    await registerFeature({ name: "sched_daily", connector: PG, query: "SELECT 1, 2", schedule: "0 0 * * *" });
    await tick();
    expect(await runsOf("sched_daily")).toHaveLength(0);
    const nextMidnight = new Date();
    nextMidnight.setUTCHours(24, 0, 0, 0);
    await tick(nextMidnight.getTime() + 1000);
    const [run] = await waitForRun("sched_daily");
    expect(run).toMatchObject({ status: "succeeded", trigger: "schedule" });
  });

  it("the lease keeps a second run from starting while one is queued or running", async () => {
    await registerFeature({ name: "sched_leased", connector: PG, query: "SELECT 1, 2", update_frequency: "30s" });
    // Take the lease the way a running run holds it.
    const ids = await env.DB.prepare("SELECT id FROM features WHERE name = 'sched_leased'").first<{ id: number }>();
    await env.DB.prepare("INSERT INTO feature_schedules (feature_id, lease_run_id, lease_until, failures, updated_at) VALUES (?1, 'someone-else', ?2, 0, 0)")
      .bind(ids!.id, Date.now() + 600_000)
      .run();
    await tick();
    expect(await runsOf("sched_leased")).toHaveLength(0);
    const res = await callJson("POST", "/api/v1/features/sched_leased/materialize", 409);
    expect(res.error.code).toBe("RUN_IN_PROGRESS");
    // Once the lease has expired, the next tick runs it.
    await env.DB.prepare("UPDATE feature_schedules SET lease_until = 1 WHERE feature_id = ?1").bind(ids!.id).run();
    await tick();
    expect((await waitForRun("sched_leased"))[0]?.status).toBe("succeeded");
  });

  it("retries a failing feature on later ticks with growing backoff, and recovers", async () => {
    await registerFeature({ name: "sched_flaky", connector: PG, query: "SELECT customer_id, SUM(amount) FROM missing_table GROUP BY 1", update_frequency: "1d" });
    let now = Date.now();
    await tick(now);
    expect((await waitForRun("sched_flaky"))[0]?.status).toBe("failed");
    let state = await schedule("sched_flaky");
    expect(state).toMatchObject({ failures: 1 });
    expect(state!.next_run_at - now).toBeGreaterThanOrEqual(55_000);
    expect(state!.next_run_at - now).toBeLessThanOrEqual(65_000);

    now = state!.next_run_at + 1000;
    await tick(now);
    expect((await waitForRun("sched_flaky", 2))[0]?.status).toBe("failed");
    state = await schedule("sched_flaky");
    expect(state).toMatchObject({ failures: 2 });
    expect(state!.next_run_at - Date.now()).toBeGreaterThan(100_000); // 2 minutes after the second failure

    await callJson("PATCH", "/api/v1/features/sched_flaky", 200, { body: { query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY 1" } });
    await tick(state!.next_run_at + 1000);
    expect((await waitForRun("sched_flaky", 3))[0]?.status).toBe("succeeded");
    expect(await schedule("sched_flaky")).toMatchObject({ failures: 0 });
  });

  it("POST /materialize without wait queues the run (202) and the consumer executes it", async () => {
    await registerFeature({ name: "sched_manual", connector: PG, query: "SELECT customer_id, count(*) FROM purchases GROUP BY 1", value_type: "int" });
    const queued = await callJson<Run>("POST", "/api/v1/features/sched_manual/materialize", 202);
    expect(queued).toMatchObject({ status: "queued", trigger: "manual" });
    const [run] = await waitForRun("sched_manual");
    expect(run).toMatchObject({ id: queued.id, status: "succeeded", rows_read: 25 });
    expect((await latest("sched_manual", 1)).value).toBe(12);
  });

  it("a redelivered materialize job does not run the same run twice", async () => {
    const { id } = (await runsOf("sched_manual"))[0]!;
    const batch = createMessageBatch("fstore-jobs", [{ id: "again", timestamp: new Date(), attempts: 2, body: { type: "materialize", run_id: id } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["again"]);
    expect(await runsOf("sched_manual")).toHaveLength(1);
  });
});
