"""`continue_as_new`: the next generation of an instance, as DurableTask.Core (DTFx) starts it.
Sources: Azure/durabletask at 5217032, Azure/azure-functions-durable-extension at a7c6d69.

- The SDK answers with `isDone` and a ContinueAsNew action (`input`: its JSON text); the
  extension's shim calls `ContinueAsNew(action.Input)` (OutOfProcOrchestrationShim.cs L170-172),
  so DTFx serialises that text once more as the new input, as for a child's input.
- The new ExecutionStarted: the same instance id, a new execution id, the same name, version and
  ParentInstance (TaskOrchestrationDispatcher.cs L1056-1075). The new generation's history starts
  from scratch with it (L636-668: a new OrchestrationRuntimeState) and runs at once, in the same
  work item; the custom status is carried over (L653-654). On Azure Storage the instance's
  CreatedTime becomes the new ExecutionStarted's time.
- Raised events that the old generation had not processed when it continued as new are carried
  into the new history, in order, after ExecutionStarted (TaskOrchestrationContext.cs L464-474,
  HandleEventRaisedEvent; TaskOrchestrationDispatcher.cs L524-537 and L656-662; carry-over is the
  default, AzureStorageOrchestrationServiceSettings.cs L202). Events the old generation did
  process but no task awaited are lost: the shim calls ContinueAsNew without
  preserveUnprocessedEvents, so DurableTaskExtension.cs L830-835 reschedules nothing.
- Everything else addressed to the old execution (activity results, timers, children's ends) is
  dropped when it arrives (TaskOrchestrationDispatcher.cs L944-960).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from devhost import events, history
from devhost.history import is_event_raised
from devhost.instance import Instance
from devhost.status import RuntimeStatus

if TYPE_CHECKING:
    from devhost.engine import Engine


def next_generation(old: Instance, input_text: str, now: datetime) -> Instance:
    """The generation after `old`, with `old`'s unprocessed raised events in its inbox (taken
    from `old`), and `old`'s waiting raises, which its first checkpoint answers."""
    new = Instance(
        instance_id=old.instance_id,
        execution_id=uuid.uuid4().hex,
        name=old.name,
        input_raw=json.dumps(input_text),
        status=RuntimeStatus.RUNNING,
        created=now,
        updated=now,
        custom_status_raw=old.custom_status_raw,
        parent=old.parent,
        first_execution_id=old.lineage,
    )
    started = history.execution_started(
        now, new.instance_id, new.execution_id, new.name, new.input_raw, new.parent
    )
    carried = [e for e in old.inbox if is_event_raised(e)]
    old.inbox.clear()
    new.inbox = [started, *carried]
    new.unsaved = events.take_unsaved(old)
    return new


async def continue_as_new(engine: Engine, old: Instance, input_text: str, now: datetime) -> None:
    """Replace `old` (whose lock the caller holds) by its next generation, checkpoint that, and
    run it. Until the checkpoint is written the stored instance is still `old` before this
    episode, so a crash replays the episode that continued as new."""
    engine._dispatcher.disarm(old)
    new = next_generation(old, input_text, now)
    async with new.lock:
        engine._instances[new.instance_id] = new  # raises from now on reach `new`
        await engine._checkpoint(new, status_changed=True)
    engine._kick(new)
