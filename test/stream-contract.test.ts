/**
 * The stream contract over the HTTP endpoint: the shared cases (test/contract/stream-cases.ts) are
 * posted to POST /api/v1/streams/{topic}/events, go through the real local `events` queue and
 * consumer, and the feature's history must hold exactly the expected window values. The Kafka and
 * Pulsar bridges run the same cases.
 */
import { describe, expect, it } from "vitest";
import { caseFeature, streamCases } from "./contract/stream-cases";
import { callJson, registerFeature } from "./helpers";

describe("stream contract over HTTP", () => {
  for (const c of streamCases) {
    it(`${c.name}: the same events in give the same window values out`, async () => {
      const def = caseFeature(c, "http");
      await registerFeature(def);
      const topic = `http_${c.name}_topic`;
      const send = () => callJson("POST", `/api/v1/streams/${encodeURIComponent(topic)}/events`, 202, { body: c.events });
      await send();
      if (c.redeliver) await send();
      for (const [entity, expected] of Object.entries(c.expected)) {
        // Waits for the queue consumer; a hang guard, not a performance bound.
        await expect
          .poll(async () => (await callJson("GET", `/api/v1/features/${def.name}/values?entity_id=${entity}`, 200)).values.map((v: { timestamp: string; value: unknown }) => ({ timestamp: v.timestamp, value: v.value })), {
            timeout: 20_000,
            interval: 200,
          })
          .toEqual(expected);
      }
      if (c.redeliver) {
        await expect.poll(async () => (await callJson("GET", `/api/v1/features/${def.name}`, 200)).stream_stats, { timeout: 20_000, interval: 200 }).toMatchObject({ events: c.events.length, duplicates: c.events.length });
      }
    });
  }
});
