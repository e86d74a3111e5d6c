"""External events, raised through the management API or the SDK's client, as the Durable
extension and DurableTask.Core (DTFx) deliver them. Sources: Azure/azure-functions-durable-extension
at a7c6d69 and Azure/durabletask at 5217032.

- Answers (HttpApiHandler.cs L978-1020, HandleRaiseEventRequestAsync): 404 with no body for an
  unknown instance, 410 for a Completed, Failed, Terminated (or Canceled) one, checked before the
  body; then 400 `Only application/json request content is supported` unless the media type is
  application/json, 400 `Invalid JSON content` unless the body parses; else 202 with no body.
  A Pending instance takes the event (DurableClient.cs L913-919, IsOrchestrationRunning).
  The SDK's `raise_event` posts `json.dumps(data)` as JSON, so the data arrives encoded twice,
  and turns 410 and 404 into `Exception("Instance with ID {id} is gone: either completed or
  failed")` and `Exception("No instance with ID {id} found.")`.
- The data: the body parsed as a JToken (MessagePayloadDataConverter.ConvertToJToken) and
  serialised again by DTFx into EventRaisedEvent.Input; devhost keeps the body's JSON in compact
  form. Through the SDK's client the orchestrator receives the JSON text as a string
  (azure-functions-durable-python issue #295), as on Azure.
- The event names the instance, not an execution (DurableClient.cs L836-840 clears the
  execution id), so it reaches whichever generation runs when it is processed.
- Several events of one name: the SDK buffers one that arrives before its wait in
  `deferred_tasks` and hands it to every later wait of that name (issue #507); devhost replays
  through the SDK, so that is what an orchestrator sees here too.

An accepted event is durable: the raise is answered once a checkpoint holds it (in the history,
or among the instance's pending events). It never waits for the instance's lock: it joins the
inbox at once, so an event raised while an episode runs is processed after that episode, as a
queued message is on Azure.
"""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from typing import TYPE_CHECKING

from devhost import history
from devhost.history import utcnow
from devhost.instance import Instance

if TYPE_CHECKING:
    from devhost.engine import Engine


class RaiseOutcome(Enum):
    ACCEPTED = "accepted"
    NOT_FOUND = "not_found"
    GONE = "gone"
    NOT_STORED = "not_stored"


def event_input(body: str) -> str:
    """The event's data as DTFx stores it: the JSON body, re-serialised compactly. Raises
    ValueError when the body is not JSON."""
    return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)


async def raise_event(
    engine: Engine, instance_id: str, name: str, input_json: str | None
) -> RaiseOutcome:
    instance = await engine._owned(instance_id)
    current = engine._instances.get(instance_id)  # a newer generation may have taken over
    if current is not None:
        instance = current
    if instance is None:
        return RaiseOutcome.NOT_FOUND
    if instance.is_terminal or current is None:
        return RaiseOutcome.GONE
    saved: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    instance.inbox.append(history.event_raised(utcnow(), name, input_json))
    instance.unsaved.append(saved)
    engine._kick(instance)
    return RaiseOutcome.ACCEPTED if await saved else RaiseOutcome.NOT_STORED


def settle(waiting: list[asyncio.Future[bool]], stored: bool) -> None:
    """Answer the raises whose events a checkpoint has (or has not) written."""
    for future in waiting:
        if not future.done():
            future.set_result(stored)


def take_unsaved(instance: Instance) -> list[asyncio.Future[bool]]:
    waiting, instance.unsaved = instance.unsaved, []
    return waiting
