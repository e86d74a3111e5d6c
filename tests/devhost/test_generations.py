"""The next generation of an instance and the episodes' batches, without a host: what DTFx
carries over on `continue_as_new` (sources in `devhost.generations`)."""

from __future__ import annotations

import json

from devhost import history
from devhost.generations import next_generation
from devhost.history import utcnow
from devhost.instance import Instance
from devhost.sequencing import take_batch
from devhost.status import RuntimeStatus


def _instance() -> Instance:
    now = utcnow()
    return Instance(
        instance_id="eternal",
        execution_id="first",
        name="watch",
        input_raw=json.dumps('{"gen": 0}'),
        status=RuntimeStatus.RUNNING,
        created=now,
        updated=now,
        custom_status_raw='"busy"',
        parent={"Name": "p", "TaskScheduleId": 3, "OrchestrationInstance": {}},
    )


def test_the_next_generation_starts_fresh_with_the_unprocessed_events_in_order() -> None:
    old = _instance()
    old.history.append(history.orchestrator_started(utcnow()))
    old.next_id = 7
    now = utcnow()
    ping, pong = (history.event_raised(now, n, '"x"') for n in ("ping", "pong"))
    old.inbox = [ping, history.task_completed(now, 2, "1"), pong]
    new = next_generation(old, '{"gen": 1}', now)
    assert (new.instance_id, new.name, new.status) == ("eternal", "watch", RuntimeStatus.RUNNING)
    assert new.execution_id != old.execution_id and new.lineage == "first"
    assert (new.history, new.tasks, new.next_id) == ([], {}, 0)
    assert new.input_raw == json.dumps('{"gen": 1}')  # the SDK's text, serialised by DTFx
    assert (new.custom_status_raw, new.parent) == (old.custom_status_raw, old.parent)
    started, *carried = new.inbox
    assert started["EventType"] == 0 and started["Input"] == new.input_raw
    assert started["OrchestrationInstance"]["ExecutionId"] == new.execution_id
    assert carried == [ping, pong]  # the old execution's activity result is dropped
    assert old.inbox == []
    assert next_generation(new, "2", now).lineage == "first"


def test_a_raised_event_has_an_episode_of_its_own() -> None:
    instance = _instance()
    now = utcnow()
    done = history.task_completed(now, 0, "1")
    fired = history.timer_fired(now, 1, "2030-01-01T00:00:00.000000Z")
    event = history.event_raised(now, "go", "1")
    instance.inbox = [done, fired, event, event, done]
    assert take_batch(instance) == [done, fired]
    assert take_batch(instance) == [event]
    assert take_batch(instance) == [event]
    assert take_batch(instance) == [done]


def test_pending_events_are_part_of_the_checkpoint() -> None:
    instance = _instance()
    event = history.event_raised(utcnow(), "go", '{"a":1}')
    instance.inbox = [history.task_completed(utcnow(), 0, "1"), event]
    restored = Instance.from_document(json.loads(json.dumps(instance.to_document(None))))
    assert restored.inbox == [event]  # completions come back by re-dispatch, events from here
