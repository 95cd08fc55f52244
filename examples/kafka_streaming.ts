/**
 * TypeScript twin of the guide's "Exemplo Kafka Streaming" (examples/kafka_streaming.py): a Kafka
 * connector, a stream feature holding each customer's last action, and the stream run in this
 * process (the SDK's startStreamingFeature runs the stream bridge in-process, docs/bridges.md)
 * until Ctrl-C, which forwards and commits the batch in flight and exits 0. Records on
 * `customer_events` — key = customer id, JSON payload with an `action` field — become values of
 * `customer_last_action`.
 *
 * From the repository root, with FStore running (`npm run dev`) and a Kafka at localhost:9092
 * (KAFKA_BOOTSTRAP_SERVERS names another):
 *
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   node examples/kafka_streaming.ts
 *   echo 'customer_1:{"action": 3}' | kcat -b localhost:9092 -P -t customer_events -K:
 *   npx fstore latest customer_last_action customer_1
 *
 * The guide's definition sets no value_type, so the feature takes FStore's default (float) and the
 * actions must be numbers (action codes); add value_type: "string" to keep actions as text.
 * The group follows the guide's config (auto_offset_reset "latest"): records produced before the
 * bridge joined its group are not read. Safe to run again: the feature and connector are reused.
 */
import { FeatureStore } from "fstore";
import { KafkaConnector } from "fstore/connectors";

const store = new FeatureStore();
const connector = new KafkaConnector({
  bootstrap_servers: process.env.KAFKA_BOOTSTRAP_SERVERS ?? "localhost:9092",
  group_id: "feature_store_group",
});

// Configurar streaming
const feature = await store.createFeature({
  name: "customer_last_action",
  stream_config: {
    topic: "customer_events",
    value_field: "action",
  },
});
const stream = await store.startStreamingFeature(feature.name, connector);
console.log(`streaming '${feature.name}' from ${stream.topic} through ${stream.connector} (Ctrl-C stops)`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stream.stop());
await stream.done;
