"""Snapshot objects are read-only; their one cache is the documented Memo (pure code)."""

import dataclasses
import inspect
import json

import orjson
import pytest

from clusters import normalize, persistence, snapshot
from clusters.snapshot import Memo, Node, Service, Snapshot, from_dict, to_dict
from readiness.context import RuleContext
from readiness.engine import evaluate
from readiness.policy import Policy
from tests.clusters.conftest import load_raw, recorded_now

SNAPSHOT_TYPES = [
    cls
    for _, cls in inspect.getmembers(snapshot, inspect.isclass)
    if dataclasses.is_dataclass(cls) and cls.__module__ == snapshot.__name__
]
WITH_MEMO = (Snapshot, Node, Service)


def polled() -> Snapshot:
    raw = load_raw("lab_poll1")
    return normalize.snapshot(raw, now=recorded_now(raw), reuse=normalize.Reuse())


def every_object(snap: Snapshot):
    yield snap
    yield snap.swarm
    for name in ("nodes", "services", "tasks", "networks", "secrets", "configs", "events"):
        yield from getattr(snap, name)
    for service in snap.services:
        yield from service.env
        yield from service.mounts
        yield from filter(None, (service.update_config, service.rollback_config))


def test_every_snapshot_type_is_frozen_and_slotted():
    assert {cls.__name__ for cls in SNAPSHOT_TYPES} >= {"Snapshot", "Node", "Service", "Task"}
    for cls in SNAPSHOT_TYPES:
        assert cls.__dataclass_params__.frozen, cls
        fields = tuple(f.name for f in dataclasses.fields(cls))
        # nothing but its fields can be kept on it: the memo is the only field that is not data
        assert cls.__slots__ == fields, cls
        assert snapshot.data_fields(cls) == tuple(name for name in fields if name != "_memo"), cls
        assert ("_memo" in fields) == (cls in WITH_MEMO), cls


def test_snapshot_objects_reject_attribute_writes():
    snap = polled()
    objects = list(every_object(snap))
    assert {type(obj) for obj in objects} >= {Snapshot, Node, Service, snapshot.Task}
    for obj in objects:
        assert not hasattr(obj, "__dict__")
        name = snapshot.data_fields(type(obj))[0]
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)
        with pytest.raises((AttributeError, TypeError)):  # frozen, and no slot for it
            obj._cache = {}
        with pytest.raises(AttributeError):  # not even around the frozen check
            object.__setattr__(obj, "_cache", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap._memo = Memo()


def test_the_memo_holds_every_cache_a_poll_makes_and_nothing_else():
    snap = polled()
    evaluate(snap, Policy(), RuleContext(now=snap.taken_at), keep_passes=False)
    for service in snap.services:
        persistence._service_row(service)
    assert Memo.__slots__ == ("tasks", "check_obj", "alone_rules", "stored_digest")
    assert snap.memo.tasks is not None
    assert all(service.memo.check_obj is not None for service in snap.services)
    assert all(service.memo.alone_rules is not None for service in snap.services)
    assert all(service.memo.stored_digest is not None for service in snap.services)
    assert all(node.memo.check_obj is not None for node in snap.nodes)
    # the memo is not data: not compared, not stored, not carried into a copy
    assert json.loads(orjson.dumps(snap)) == json.loads(json.dumps(to_dict(snap)))
    assert "_memo" not in orjson.dumps(snap).decode()
    again = from_dict(json.loads(orjson.dumps(snap)))
    assert again == snap and again.memo.tasks is None
    copy = dataclasses.replace(snap.services[0])
    assert copy == snap.services[0] and copy.memo.check_obj is None


def test_the_task_index_follows_a_list_that_grew():
    snap = polled()
    before = len(snap.running_tasks())
    snap.tasks.append(dataclasses.replace(snap.running_tasks()[0], id="extra"))
    assert len(snap.running_tasks()) == before + 1
