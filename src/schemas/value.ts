/** Request and response bodies of the values API (the guide's REST contract). */
import { z } from "@hono/zod-openapi";
import { FeatureRef } from "../registry/refs";
import { EntityId, FeatureValue, Timestamp } from "./common";

export const MAX_BATCH_ITEMS = 10_000;

export const ValuePush = z
  .object({
    entity_id: EntityId,
    value: FeatureValue,
    timestamp: Timestamp.optional().openapi({ description: "When the value was measured; defaults to the server's time" }),
  })
  .openapi("ValuePush");

export const BatchItem = ValuePush.extend({ feature_id: FeatureRef.openapi({ description: "A feature name, or `group:name`", example: "customer_purchase_amount" }) }).openapi("BatchItem");

export const Batch = z
  .array(BatchItem)
  .min(1, "the batch is empty")
  .max(MAX_BATCH_ITEMS, `a batch holds at most ${MAX_BATCH_ITEMS} items`)
  .openapi("Batch");

export const WrittenValue = z
  .object({ feature_id: z.string(), entity_id: z.string(), value: z.unknown(), timestamp: z.string() })
  .openapi("WrittenValue");

export const BatchResult = z.object({ written: z.number().int() }).openapi("BatchResult");

export const LatestValue = z
  .object({ feature_id: z.string(), entity_id: z.string(), value: z.unknown(), timestamp: z.string() })
  .openapi("LatestValue");

export const HistoryQuery = z.object({
  entity_id: EntityId.optional(),
  start: Timestamp.optional().openapi({ description: "Oldest timestamp included" }),
  end: Timestamp.optional().openapi({ description: "Newest timestamp included" }),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
});

export const History = z
  .object({
    feature_id: z.string(),
    values: z.array(z.object({ entity_id: z.string(), value: z.unknown(), timestamp: z.string() })),
  })
  .openapi("History");

export const ValuePathParams = z.object({
  id: FeatureRef.openapi({ param: { name: "id", in: "path" }, description: "A feature name, or `group:name`", example: "customer_purchase_amount" }),
  entity_id: EntityId.openapi({ param: { name: "entity_id", in: "path" } }),
});
