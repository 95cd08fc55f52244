"""
The guide's "Exemplo Kafka Streaming" (examples/kafka_streaming.py): a Kafka connector, a stream
feature holding each customer's last action, and the stream started.

Python cannot consume Kafka with only `requests`, so `start_streaming_feature` binds the feature to
the connector and starts the stream bridge (the fstore npm package's `fstore stream`, docs/bridges.md) for
its topic as a background process, which goes on after this script ends; the script prints its pid
and log file (`kill <pid>` stops it cleanly). Records on `customer_events` — key = customer id,
JSON payload with an `action` field — become values of `customer_last_action`.

From the repository root, with FStore running (`npm run dev`) and a Kafka at localhost:9092
(KAFKA_BOOTSTRAP_SERVERS names another):

    export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
    PYTHONPATH=clients/python python3 examples/kafka_streaming.py
    echo 'customer_1:{"action": 3}' | kcat -b localhost:9092 -P -t customer_events -K:
    npx fstore latest customer_last_action customer_1

The guide's definition sets no value_type, so the feature takes FStore's default (float) and the
actions must be numbers (action codes); add "value_type": "string" to keep actions as text.
The group follows the guide's config (auto_offset_reset "latest"): records produced before the
bridge joined its group are not read. Safe to run again: the feature and connector are reused, and
a bridge already running for the topic is reused too.
"""
import os

from fstore import FeatureStore
from fstore.connectors import KafkaConnector

store = FeatureStore()
connector = KafkaConnector({
    "bootstrap_servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
    "group_id": "feature_store_group"
})

# Configurar streaming
feature = store.create_feature(
    name="customer_last_action",
    stream_config={
        "topic": "customer_events",
        "value_field": "action"
    }
)
bridge = store.start_streaming_feature(feature.name, connector)
print(f"streaming '{feature.name}' from {bridge.topic} through {bridge.connector}: bridge pid {bridge.pid}, log {bridge.log_file}")
