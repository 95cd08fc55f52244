"""
The guide's connector classes (``from fstore.connectors import PostgreSQLConnector``).

A connector holds its config; FStore stores it (secrets encrypted) the first time it is used,
under ``name=`` or a name derived from the non-secret parts of the config (the same name the
TypeScript SDK derives), so the same config always maps to the same connector. A new connector
is kept only once FStore could connect with it: a failed connection test removes it again and
raises, so mistakes leave nothing behind. The connector constructed last of each kind is what
``store.create_feature(...)`` uses when the definition names none.
"""
import json
import re

from .client import FeatureStore, remember_connector
from .errors import FStoreError

# Config fields never used in a derived name (FStore also keeps them encrypted).
_SECRET_FIELD = re.compile(r"password|secret|credential|token|key", re.IGNORECASE)


def _fnv1a(text):
    """FNV-1a over UTF-16 code units, as src/sdk/connectors.ts computes it."""
    h = 0x811C9DC5
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h = ((h ^ (data[i] | data[i + 1] << 8)) * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def _js_value(value):
    """Integral floats as JavaScript prints them (5432.0 -> 5432), so both clients hash alike."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def connector_name(type_, config):
    """The name a config gets when none is given: ``<type>_<8 hex digits>``."""
    visible = sorted(([k, _js_value(v)] for k, v in config.items() if not _SECRET_FIELD.search(k)), key=lambda kv: kv[0])
    return f"{type_}_{_fnv1a(json.dumps(visible, separators=(',', ':'), ensure_ascii=False))}"


def _loosely_equal(a, b):
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    return str(_js_value(a)) == str(_js_value(b))


class Connector:
    """A source FStore reads from. ``type`` is FStore's connector type, ``kind`` "sql", "lake" or "stream"."""

    type = ""
    kind = ""
    # Whether FStore must connect before a new connector is kept (stream brokers are reached by the bridge).
    tested_on_create = True

    def __init__(self, config, name=None, store=None):
        self.config = dict(config)
        self._name = name
        self._store = store
        remember_connector(self)

    @property
    def name(self):
        return self._name or connector_name(self.type, self.config)

    @property
    def store(self):
        return self._store or FeatureStore()

    def ensure(self, store=None):
        """
        Makes sure FStore holds this connector and returns ``(name, created)``: reuses one of the
        same name and config, or creates it and tests the connection (removing it again, and raising
        CONNECTOR_TEST_FAILED, when FStore cannot connect). Another config under this name: CONFLICT.
        """
        store = store or self.store
        name = self.name
        try:
            existing = store.get_connector(name)
        except FStoreError as err:
            if err.status != 404:
                raise
            existing = None
        if existing is not None:
            self._check_same_config(existing)
            return name, False
        try:
            store.create_connector(name, self.type, self.config)
        except FStoreError as err:
            if err.status == 409:  # created meanwhile
                return name, False
            raise
        if not self.tested_on_create:
            return name, True
        try:
            result = store.test_connector(name)
        except FStoreError:
            self._forget(store, name)
            raise
        if not result["ok"]:
            self._forget(store, name)
            raise FStoreError(400, "CONNECTOR_TEST_FAILED",
                              f"FStore could not connect with this {self.type} config ({result.get('kind', 'unknown')}): {result['message']}", result)
        return name, True

    @staticmethod
    def _forget(store, name):
        try:
            store.delete_connector(name)
        except FStoreError:
            pass  # the error that brought us here is the one to report

    def test(self, store=None):
        """Asks FStore to connect to the source; returns its report (ok, kind, message)."""
        store = store or self.store
        name, _ = self.ensure(store)
        return store.test_connector(name)

    def register_feature(self, feature_def):
        """The guide's ``connector.register_feature(feature_def)``."""
        return self.store.register_feature(feature_def, connector=self)

    def _check_same_config(self, existing):
        secret = set(existing.get("secret_fields", []))
        differs = [k for k, v in self.config.items() if k not in secret and not _loosely_equal(existing["config"].get(k), v)]
        if existing["type"] != self.type or differs:
            what = f"config ({', '.join(differs)} differ)" if existing["type"] == self.type else f"type ({existing['type']})"
            raise FStoreError(409, "CONFLICT", f"connector '{existing['name']}' already exists with another {what}: give this one another "
                              f"name (name=...), or delete that one (npx fstore connectors delete {existing['name']}) once no feature uses it",
                              {"existing": existing})


class PostgreSQLConnector(Connector):
    """PostgreSQL: host, port, database, user, password; plus ssl and ws_proxy (docs/connectors.md)."""

    type = "postgres"
    kind = "sql"


class PostgresConnector(PostgreSQLConnector):
    """The guide also calls it PostgresConnector."""


class MySQLConnector(Connector):
    """MySQL / MariaDB: host, port, database, user, password."""

    type = "mysql"
    kind = "sql"


class S3Connector(Connector):
    """Amazon S3 or S3-compatible (R2, MinIO, s3rver): bucket, aws_access_key_id, aws_secret_access_key, region, endpoint."""

    type = "s3"
    kind = "lake"


class AzureDataLakeConnector(Connector):
    """Azure Data Lake / Blob Storage: account_name, container, credential (SAS token), endpoint."""

    type = "adls"
    kind = "lake"


class StreamConnector(Connector):
    """
    Kafka and Pulsar. FStore stores the connector; the stream bridge (``npm run stream`` /
    ``npx fstore stream``, docs/bridges.md) consumes the topics and forwards the records to FStore.
    FStore never connects to the broker itself, so a new stream connector is not connection-tested
    (the bridge reports a broker it cannot reach, and keeps retrying).
    """

    kind = "stream"
    tested_on_create = False

    def register_streaming_feature(self, feature_def):
        """The guide's ``kafka_connector.register_streaming_feature(feature_def)``: a stream feature reading through this connector."""
        return self.store.register_feature(feature_def, connector=self)


class KafkaConnector(StreamConnector):
    """Apache Kafka: bootstrap_servers, group_id, auto_offset_reset; client_id, security_protocol, sasl_mechanism, sasl_username, sasl_password."""

    type = "kafka"


class PulsarConnector(StreamConnector):
    """Apache Pulsar (WebSocket API): service_url, subscription_name; web_service_url, token, tenant, namespace, subscription_type."""

    type = "pulsar"


__all__ = [
    "Connector",
    "PostgreSQLConnector",
    "PostgresConnector",
    "MySQLConnector",
    "S3Connector",
    "AzureDataLakeConnector",
    "KafkaConnector",
    "PulsarConnector",
    "StreamConnector",
    "connector_name",
]
