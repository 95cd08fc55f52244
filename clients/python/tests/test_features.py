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
        # Another entity in the same group (in another group the same name is another feature).
        store.create_feature(name=name, entity_id="product", feature_group="customer")
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


def test_same_name_in_two_groups_is_addressed_as_group_colon_name(store, unique):
    name, a, b = unique("py_shared"), unique("py_drivers"), unique("py_shoppers")
    store.create_feature(name=name, entity_id="driver_id", feature_group=a)
    second = store.create_feature(name=name, entity_id="customer_id", feature_group=b)
    assert second["ref"] == f"{b}:{name}"
    # Creating it again is not a conflict, though the bare name is now ambiguous.
    assert store.create_feature(name=name, entity_id="customer_id", feature_group=b, owner="growth").owner == "growth"
    with pytest.raises(FStoreError) as ambiguous:
        store.get_feature(name)
    assert ambiguous.value.code == "AMBIGUOUS_FEATURE"
    assert store.get_feature(f"{a}:{name}").entity_id == "driver_id"
    store.send_feature_value(f"{b}:{name}", "c1", 0.5, "2024-01-01T00:00:00Z")
    assert store.get_latest_value(f"{b}:{name}", "c1").value == 0.5
