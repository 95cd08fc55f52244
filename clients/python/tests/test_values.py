"""Pushing and reading values: the guide's send_feature_value and send_batch_values, and errors."""
from datetime import datetime, timezone

import pytest
import requests

from fstore import FeatureStore, FStoreError


def test_send_feature_value_with_utcnow_isoformat_and_read_it_back(store, unique):
    name = unique("py_amount")
    store.create_feature(name=name, entity_id="customer")
    stamp = datetime.utcnow().isoformat()
    assert store.send_feature_value(name, "customer_123", 99.99, stamp) is True
    latest = store.get_latest_value(name, "customer_123")
    assert latest["value"] == 99.99
    assert latest["timestamp"].startswith(stamp[:19])


def test_send_feature_value_takes_datetimes_and_defaults_to_now(store, unique):
    name = unique("py_amount")
    store.create_feature(name=name, entity_id="customer")
    store.send_feature_value(name, "c1", 1.5, datetime(2024, 2, 20, 22, 39, 38, 123456))
    assert store.get_latest_value(name, "c1")["timestamp"] == "2024-02-20T22:39:38.123456Z"
    store.send_feature_value(name, "c2", 2.5)
    assert store.get_latest_value(name, "c2")["timestamp"][:4] == str(datetime.now(timezone.utc).year)


def test_send_batch_values_is_all_or_nothing(store, unique):
    name = unique("py_stock")
    store.create_feature(name=name, entity_id="product", value_type="int")
    assert store.send_batch_values([
        {"feature_id": name, "entity_id": "p1", "value": 3, "timestamp": datetime.utcnow().isoformat()},
        {"feature_id": name, "entity_id": "p2", "value": 4},
    ]) is True
    assert store.get_online_features(["p1", "p2"], features=[name])["results"][1]["values"][name] == 4
    with pytest.raises(FStoreError) as bad:
        store.send_batch_values([{"feature_id": name, "entity_id": "p3", "value": 5}, {"feature_id": name, "entity_id": "p4", "value": "many"}])
    assert bad.value.status == 400
    with pytest.raises(FStoreError) as missing:
        store.get_latest_value(name, "p3")
    assert missing.value.code == "VALUE_NOT_FOUND"


def test_errors_carry_fstore_code_and_message_and_are_request_exceptions(store):
    with pytest.raises(requests.exceptions.RequestException) as caught:
        store.send_feature_value("py_no_such_feature", "e", 1)
    err = caught.value
    assert isinstance(err, FStoreError)
    assert (err.status, err.code) == (404, "FEATURE_NOT_FOUND")
    assert "py_no_such_feature" in err.message
    assert str(err).startswith("FEATURE_NOT_FOUND: ")


def test_a_missing_key_says_where_to_get_one(store):
    anonymous = FeatureStore(url=store.url, api_key="")
    anonymous.api_key = None
    with pytest.raises(FStoreError) as caught:
        anonymous.list_features()
    assert caught.value.status == 401
    assert "FSTORE_KEY" in caught.value.message


def test_an_unreachable_fstore_says_so():
    with pytest.raises(FStoreError) as caught:
        FeatureStore(url="http://127.0.0.1:1", api_key="k").list_features()
    assert caught.value.code == "UNREACHABLE"
    assert "npm run dev" in caught.value.message
