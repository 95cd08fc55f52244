/** Worker entry point: wires the HTTP app, the cron trigger and the queue consumer to instrumented bindings. */
import { createApp } from "./app";
import type { Bindings } from "./env";
import { instrument } from "./invocation";
import { consumeQueue } from "./jobs/consumer";
import { runScheduled } from "./jobs/scheduled";

const app = createApp();

export default {
  // Each invocation sees its bindings counted, timed and held to Cloudflare's KV limit (invocation.ts).
  fetch: (request: Request, env: Bindings, ctx: ExecutionContext) => app.fetch(request, instrument(env, ctx), ctx),
  scheduled: (controller, env, ctx) => ctx.waitUntil(runScheduled(controller, instrument(env))),
  queue: (batch, env, _ctx) => consumeQueue(batch, instrument(env)),
} satisfies ExportedHandler<Bindings, unknown>;
