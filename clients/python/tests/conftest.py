"""
Fixtures of the client's tests. They run against a real FStore and real sources, as set up by
test/e2e/python-client.test.ts (`npm test`): FSTORE_URL and FSTORE_KEY name the server; the
variables of the examples' headers (PG*, AWS_*) name the sources. A missing
variable fails the test run — these tests never skip.
"""
import os
import uuid

import pytest

from fstore import FeatureStore


def need(name):
    value = os.environ.get(name)
    if value is None:
        pytest.fail(f"{name} is not set: run these tests through `npm test` (test/e2e/python-client.test.ts)", pytrace=False)
    return value


@pytest.fixture
def store():
    need("FSTORE_URL")
    need("FSTORE_KEY")
    return FeatureStore()


@pytest.fixture
def unique():
    """A name no other test uses: unique('f') -> 'f_3fa2...'."""
    return lambda prefix: f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pg_config():
    """The seeded PostgreSQL in the guide's config shape, reached directly over TCP."""
    return {
        "host": "localhost",
        "port": 5432,
        "database": need("PGDATABASE"),
        "user": need("PGUSER"),
        "password": os.environ.get("PGPASSWORD", ""),
    }


@pytest.fixture
def s3_config():
    return {
        "bucket": "my-feature-store",
        "aws_access_key_id": need("AWS_ACCESS_KEY_ID"),
        "aws_secret_access_key": need("AWS_SECRET_ACCESS_KEY"),
        "endpoint": need("AWS_ENDPOINT_URL"),
    }


def connector_names(store):
    return sorted(c.name for c in store.list_connectors())
