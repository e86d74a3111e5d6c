"""The host side of the language workers: start them, index and load the app through them, and
send them invocations.

Like the Functions host with `FUNCTIONS_WORKER_PROCESS_COUNT` workers, devhost starts N worker
processes (`devhost.language_worker`), each with its end of a socket pair. Every worker gets a
WorkerInitRequest (the runtime indexes the app while handling it; a function it refuses fails
the init with the runtime's own message), the first one a FunctionsMetadataRequest (what the
host learns of the app comes from there: names, ids, raw bindings), and every one a
FunctionLoadRequest per function. Invocations go to the workers in turn, round robin, as the
host's RpcFunctionInvocationDispatcherLoadBalancer hands them out. A worker that exits fails the
invocations it held (`WorkerExited`) and is replaced by a new one, initialised and loaded the
same way.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost import framing
from devhost import rpc_messages as rpc
from devhost.app_script import AppScript
from devhost.errors import AppRefused, DevHostError
from devhost.language_worker import (
    APP_ATTRIBUTE_SETTING,
    LOG_LEVEL_SETTING,
    SCRIPT_FILE_SETTING,
)

log = logging.getLogger(__name__)

START_SECONDS = 120.0
STOP_SECONDS = 10.0


class WorkerExited(DevHostError):
    """The worker process running an invocation exited before answering."""

    def __init__(self, exit_code: int | None) -> None:
        super().__init__(f"The language worker process exited (exit code {exit_code})")
        self.exit_code = exit_code


class NoWorkers(DevHostError):
    """No language worker is running, and none could be started."""


@dataclass
class _Channel:
    """One worker process and the requests it has not answered yet."""

    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    reading: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


def _worker_environment(script: AppScript, log_level: int) -> dict[str, str]:
    """The host's environment (app settings included), the script file the runtime indexes, and
    the host's import path, so the worker imports the same packages the host sees."""
    environment = dict(os.environ)
    environment[SCRIPT_FILE_SETTING] = script.file_name
    environment[APP_ATTRIBUTE_SETTING] = script.attribute
    environment[LOG_LEVEL_SETTING] = logging.getLevelName(log_level)
    devhost_parent = str(Path(__file__).resolve().parents[1])
    paths = [devhost_parent, *(p for p in sys.path if p)]
    environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return environment


class WorkerPool:
    def __init__(
        self, script: AppScript, root: Path, count: int, log_level: int = logging.WARNING
    ) -> None:
        if count < 1:
            raise DevHostError("the host needs at least one language worker process")
        self.script = script
        self.root = root
        self.count = count
        self.log_level = log_level
        self.metadata: list[Any] = []
        self._channels: list[_Channel] = []
        self._ids = itertools.count(1)
        self._turn = itertools.count(1)
        self._closing = False
        self._replacing = 0
        self._changed = asyncio.Condition()

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self._channels]

    async def start(self) -> WorkerPool:
        """Start every worker; raises AppRefused (the runtime's message) if it refuses the app."""
        spawned = await asyncio.gather(
            *(self._spawn() for _ in range(self.count)), return_exceptions=True
        )
        channels = [c for c in spawned if isinstance(c, _Channel)]
        errors = [e for e in spawned if isinstance(e, BaseException)]
        try:
            if errors:
                raise errors[0]
            await asyncio.wait_for(self._prepare_all(channels), START_SECONDS)
        except BaseException:
            await asyncio.gather(*(self._kill(c) for c in channels))
            raise
        self._channels = channels
        log.info("%d language worker process(es): %s", len(channels), self.pids)
        return self

    async def _prepare_all(self, channels: list[_Channel]) -> None:
        await asyncio.gather(*(self._init(c) for c in channels))
        self.metadata = await self._index(channels[0])
        await asyncio.gather(*(self._load(c) for c in channels))

    async def invoke(self, request: Any) -> Any:
        """Send an InvocationRequest to the next worker in turn; its InvocationResponse.
        Raises WorkerExited if that worker died first, NoWorkers if none is left."""
        channel = await self._pick()
        reply = await self._request(channel, rpc.StreamingMessage(invocation_request=request))
        return reply.invocation_response

    async def stop(self) -> None:
        self._closing = True
        channels, self._channels = self._channels, []
        await asyncio.gather(*(self._close(c) for c in channels))

    # ---- one worker --------------------------------------------------------------------------

    async def _spawn(self) -> _Channel:
        host_end, worker_end = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "devhost.language_worker",
                "--fd",
                str(worker_end.fileno()),
                pass_fds=(worker_end.fileno(),),
                cwd=str(self.root),
                env=_worker_environment(self.script, self.log_level),
                start_new_session=True,  # a Ctrl-C reaches the host, which stops the workers
            )
        finally:
            worker_end.close()
        reader, writer = await asyncio.open_unix_connection(sock=host_end)
        channel = _Channel(process, reader, writer)
        channel.reading = asyncio.get_running_loop().create_task(self._read(channel))
        return channel

    async def _init(self, channel: _Channel) -> None:
        request = rpc.WorkerInitRequest(
            host_version="devhost",
            function_app_directory=str(self.script.directory),
            worker_directory=str(self.script.directory),
        )
        reply = await self._request(channel, rpc.StreamingMessage(worker_init_request=request))
        _check(reply.worker_init_response.result, "initialise the worker")

    async def _index(self, channel: _Channel) -> list[Any]:
        request = rpc.FunctionsMetadataRequest(function_app_directory=str(self.script.directory))
        reply = await self._request(
            channel, rpc.StreamingMessage(functions_metadata_request=request)
        )
        response = reply.function_metadata_response
        _check(response.result, "index the app")
        if not response.function_metadata_results:
            raise AppRefused(
                f"the runtime found no functions in {self.script.path}; "
                f"{self.script.file_name} must define the app at module level"
            )
        return list(response.function_metadata_results)

    async def _load(self, channel: _Channel) -> None:
        for metadata in self.metadata:
            request = rpc.FunctionLoadRequest(function_id=metadata.function_id, metadata=metadata)
            message = rpc.StreamingMessage(function_load_request=request)
            reply = await self._request(channel, message)
            _check(reply.function_load_response.result, f"load {metadata.name}")

    async def _request(self, channel: _Channel, message: Any) -> Any:
        message.request_id = str(next(self._ids))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        channel.pending[message.request_id] = future
        try:
            channel.writer.write(framing.encode(message))
            await channel.writer.drain()
        except ConnectionError:
            pass  # the reader sees the exit and fails the future
        return await future

    async def _read(self, channel: _Channel) -> None:
        while True:
            reply = await framing.read(channel.reader)
            if reply is None:
                break
            future = channel.pending.pop(reply.request_id, None)
            if future is not None and not future.done():
                future.set_result(reply)
        code = await channel.process.wait()
        held, channel.pending = channel.pending, {}
        for future in held.values():
            if not future.done():
                future.set_exception(WorkerExited(code))
        await self._lost(channel, code)

    async def _lost(self, channel: _Channel, code: int | None) -> None:
        if channel not in self._channels:
            return  # never admitted, or already stopped
        self._channels.remove(channel)
        if self._closing:
            return
        log.error("language worker process %s exited with code %s", channel.pid, code)
        self._replacing += 1
        try:
            replacement = await self._spawn()
            try:
                await asyncio.wait_for(self._ready(replacement), START_SECONDS)
            except BaseException:
                await self._kill(replacement)
                raise
            if self._closing:
                await self._close(replacement)
                return
            self._channels.append(replacement)
            log.info("language worker process %s replaced it", replacement.pid)
        except Exception:
            log.exception("could not replace a language worker process")
        finally:
            self._replacing -= 1
            async with self._changed:
                self._changed.notify_all()

    async def _ready(self, channel: _Channel) -> None:
        await self._init(channel)
        await self._load(channel)

    async def _pick(self) -> _Channel:
        async with self._changed:
            while not self._channels:
                if self._closing or not self._replacing:
                    raise NoWorkers("No language worker process is running; see the host's log")
                await self._changed.wait()
        if len(self._channels) == 1:
            return self._channels[0]
        return self._channels[next(self._turn) % len(self._channels)]

    async def _close(self, channel: _Channel) -> None:
        channel.writer.close()
        try:
            await asyncio.wait_for(channel.process.wait(), STOP_SECONDS)
        except TimeoutError:
            await self._kill(channel)
        if channel.reading is not None:
            await asyncio.gather(channel.reading, return_exceptions=True)

    @staticmethod
    async def _kill(channel: _Channel) -> None:
        if channel.process.returncode is None:
            channel.process.kill()
        await channel.process.wait()
        channel.writer.close()


def _check(result: Any, doing: str) -> None:
    if result.status != rpc.StatusResult.Success:
        message = result.exception.message or "no message"
        raise AppRefused(f"the Python runtime could not {doing}: {message}")
