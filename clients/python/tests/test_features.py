"""Registering features: create_feature is safe to repeat, and a real clash says what to do."""
import pytest

from fstore import FStoreError


def test_create_feature_twice_returns_the_feature_and_applies_changes(store, unique):
    name = unique("py_repeat")
    first = store.create_feature(name=name, entity_id="customer", description="v1")
    again = store.create_feature(name=name, entity_id="customer", description="v1")
    assert again.name == first.name == name
    changed = store.create_feature({"name": name, "entity_id": "customer", "description": "v2", "ttl": "7d"})
    assert (changed.description, changed.ttl) == ("v2", 7 * 86400)
    assert store.get_feature(name).description == "v2"


def test_create_feature_with_another_entity_is_a_conflict_that_names_the_fix(store, unique):
    name = unique("py_clash")
    store.create_feature(name=name, entity_id="customer")
    with pytest.raises(FStoreError) as caught:
        store.create_feature(name=name, entity_id="product")
    assert caught.value.code == "CONFLICT"
    assert "delete_feature" in caught.value.message and "entity_id 'customer'" in caught.value.message


def test_list_get_update_delete(store, unique):
    group = unique("py_group")
    names = [unique("py_listed") for _ in range(2)]
    for name in names:
        store.create_feature(name=name, entity_id="item", feature_group=group)
    assert sorted(f.name for f in store.list_features(feature_group=group)) == sorted(names)
    assert store.update_feature(names[0], owner="ml-team").owner == "ml-team"
    store.delete_feature(names[0])
    with pytest.raises(FStoreError) as gone:
        store.get_feature(names[0])
    assert gone.value.code == "FEATURE_NOT_FOUND"
