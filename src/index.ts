/** Worker entry point: wires the HTTP app, the cron trigger and the queue consumer. */
import { createApp } from "./app";
import type { Bindings } from "./env";
import { consumeQueue } from "./jobs/consumer";
import { runScheduled } from "./jobs/scheduled";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled: (controller, env, ctx) => ctx.waitUntil(runScheduled(controller, env)),
  queue: (batch, env, _ctx) => consumeQueue(batch, env),
} satisfies ExportedHandler<Bindings, unknown>;
