"""
The guide's connector calls against the seeded PostgreSQL and s3rver: naming shared with the
TypeScript SDK, the guide's PostgreSQL section, no stray connectors, the connector constructed
last, runs with progress and errors, and the stream connectors binding stream features.
"""
import pytest

from fstore import FStoreError
from fstore.connectors import (AzureDataLakeConnector, KafkaConnector, MySQLConnector, PostgresConnector, PostgreSQLConnector,
                               PulsarConnector, S3Connector, connector_name)

from conftest import connector_names


def test_names_derive_from_the_non_secret_config_as_in_the_typescript_sdk():
    config = {"host": "localhost", "port": 5432, "database": "mydb", "user": "user", "password": "password"}
    # The same value test/sdk.test.ts expects of src/sdk/connectors.ts.
    assert PostgreSQLConnector(config).name == "postgres_ec2076c0" == connector_name("postgres", config)
    assert PostgresConnector({**config, "password": "another"}).name == "postgres_ec2076c0"
    assert PostgreSQLConnector({**config, "database": "other"}).name != "postgres_ec2076c0"
    assert PostgreSQLConnector(config, name="orders_db").name == "orders_db"
    assert MySQLConnector(config).name.startswith("mysql_")
    assert AzureDataLakeConnector({"account_name": "a", "container": "c", "credential": "sas"}).name.startswith("adls_")


def test_the_guides_postgresql_section_registers_and_materializes(store, unique, pg_config):
    pg_connector = PostgreSQLConnector(pg_config)
    name = unique("py_clv")
    feature_def = {
        "name": name,
        "query": """
            SELECT 
                customer_id,
                SUM(order_value) as lifetime_value
            FROM orders
            GROUP BY customer_id
        """,
        "update_frequency": "1h"
    }
    feature = pg_connector.register_feature(feature_def)
    assert feature.connector == pg_connector.name and feature.update_frequency == "1h"
    seen = []
    run = store.update_feature_values(name, progress=seen.append)
    assert run.status == "succeeded" and run.rows_read == 20
    assert seen[-1].status == "succeeded" and all(r.id == run.id for r in seen)
    assert store.get_latest_value(name, "1")["value"] > 0


def test_a_connector_fstore_cannot_reach_is_not_left_behind(store, unique, pg_config):
    before = connector_names(store)
    # The guide's config as written: no WebSocket proxy in front of this PostgreSQL, and a port nothing listens on.
    broken = PostgreSQLConnector({**pg_config, "port": 1})
    name = unique("py_unreachable")
    with pytest.raises(FStoreError) as caught:
        store.create_feature(name=name, query="SELECT customer_id, amount FROM purchases")
    assert caught.value.code == "CONNECTOR_TEST_FAILED"
    assert broken.name not in connector_names(store)
    assert connector_names(store) == before
    with pytest.raises(FStoreError):
        store.get_feature(name)


def test_a_failed_call_removes_the_connector_it_created(store, unique, pg_config):
    before = connector_names(store)
    connector = PostgreSQLConnector({**pg_config, "connect_timeout": 7})
    with pytest.raises(FStoreError) as caught:
        store.register_feature({"name": unique("py_bad"), "query": "SELECT 1", "schedule": "every day"}, connector=connector)
    assert caught.value.status == 400
    assert connector_names(store) == before


def test_create_feature_uses_the_connector_constructed_last_of_its_kind(store, unique, s3_config):
    other = S3Connector({**s3_config, "bucket": "somewhere-else"}, name=unique("py_other_s3"))
    mine = S3Connector(s3_config)
    feature = store.create_feature(name=unique("py_clv_s3"), entity_id="customer",
                                   batch_config={"path": "customer_transactions/*.parquet"})
    assert feature.connector == mine.name != other.name
    run = store.run_batch_processing(feature.name)
    assert run.rows_read == 20
    assert store.get_latest_value(feature.name, "customer_3")["value"] == 125


def test_a_named_connector_with_another_config_is_a_conflict(store, unique, s3_config):
    name = unique("py_named")
    S3Connector(s3_config, name=name).ensure(store)
    with pytest.raises(FStoreError) as caught:
        S3Connector({**s3_config, "bucket": "other"}, name=name).ensure(store)
    assert caught.value.code == "CONFLICT" and "bucket" in caught.value.message


def test_a_failed_run_raises_with_fstores_error(store, unique, pg_config):
    name = unique("py_failing")
    store.register_feature({"name": name, "query": "SELECT customer_id, amount FROM no_such_table"}, connector=PostgresConnector(pg_config))
    with pytest.raises(FStoreError) as caught:
        store.update_feature_values(name, progress=False)
    assert caught.value.code == "RUN_FAILED"
    assert "no_such_table" in caught.value.message
    assert store.list_runs(name)[0].status == "failed"


def test_streaming_connectors_register_and_bind_features(store, unique):
    kafka = KafkaConnector({"bootstrap_servers": "localhost:9092", "group_id": unique("feature_store_group"), "auto_offset_reset": "latest"})
    pulsar = PulsarConnector({"service_url": "pulsar://localhost:6650", "subscription_name": unique("feature_store_sub"), "token": "pulsar-secret"})
    session = kafka.register_streaming_feature({"name": unique("user_current_session"), "topic": unique("user_events"),
                                                "value_field": "session_data", "window_size": "5m"})
    assert session.source_type == "stream"
    assert session.connector == kafka.name
    # Not connection-tested (the bridge, not FStore, reaches the broker); the secret is stored, never shown.
    pulsar.ensure(store)
    held = store.get_connector(pulsar.name)
    assert held.type == "pulsar"
    assert "pulsar-secret" not in str(held)
    feature = store.create_feature(name=unique("py_last_action"), stream_config={"topic": unique("customer_events"), "value_field": "action"})
    assert feature.source_type == "stream"
    assert not feature.get("connector")
    bound = store.start_streaming_feature(feature.name, kafka, bridge=False)
    assert bound.connector == kafka.name
    with pytest.raises(FStoreError) as caught:
        store.start_streaming_feature(feature.name, KafkaConnector({"bootstrap_servers": "localhost:9093", "group_id": "other"}), bridge=False)
    assert caught.value.code == "CONFLICT"
