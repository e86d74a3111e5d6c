"""A language-worker process: Microsoft's Python runtime (`azure_functions_runtime`) behind a
socket, as the Functions host runs its Python worker.

`python -m devhost.language_worker --fd N` reads StreamingMessages from the host on file
descriptor N and hands each to the runtime's own request handler, in the order the host sends
them (worker init, which indexes the app; function metadata; function load; invocations;
environment reload); the handler's response goes back in a StreamingMessage with the same
request id. The runtime loads, validates and invokes every function; this module only carries
messages. Invocations run concurrently, as in the Python worker: async functions on this
process's event loop, sync functions on the runtime's thread pool.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from devhost import framing, rpc_messages

log = logging.getLogger("devhost.language_worker")

LOG_LEVEL_SETTING = "DEVHOST_WORKER_LOG_LEVEL"
APP_ATTRIBUTE_SETTING = "DEVHOST_APP_ATTRIBUTE"
SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"
LOOPBACK = "127.0.0.1"
# Requests the host waits on one at a time; everything else (invocations) runs side by side.
_SEQUENTIAL = {
    "worker_init_request",
    "functions_metadata_request",
    "function_load_request",
    "function_environment_reload_request",
}


@dataclass
class WorkerRequest:
    """What the Python worker hands each runtime handler: the message and the host's properties
    (`protos`: the message classes; `host`: the address an HTTP-streaming server would bind)."""

    name: str
    request: Any
    properties: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[WorkerRequest], Awaitable[Any]]


def _handlers() -> dict[str, tuple[str, Handler]]:
    import azure_functions_runtime as runtime

    return {
        "worker_init_request": ("worker_init_response", runtime.worker_init_request),
        "functions_metadata_request": (
            "function_metadata_response",
            runtime.functions_metadata_request,
        ),
        "function_load_request": ("function_load_response", runtime.function_load_request),
        "invocation_request": ("invocation_response", runtime.invocation_request),
        "function_environment_reload_request": (
            "function_environment_reload_response",
            runtime.function_environment_reload_request,
        ),
    }


def _prepare_init(message: Any) -> None:
    """Before the runtime indexes the app: the app folder first on sys.path, as the Python
    worker puts the script root ahead of everything else."""
    directory = message.worker_init_request.function_app_directory
    if directory and directory not in sys.path:
        sys.path.insert(0, directory)


def _after_init(response: Any) -> None:
    if response.result.status != rpc_messages.StatusResult.Success:
        return
    refusal = _attribute_refusal()
    if refusal:
        response.result = rpc_messages.StatusResult(
            status=rpc_messages.StatusResult.Failure,
            exception=rpc_messages.RpcException(message=refusal),
        )
        return
    import azure_functions_runtime as runtime

    runtime.start_threadpool_executor()


def _attribute_refusal() -> str | None:
    """`--app module:attribute` must name the app the runtime indexed (stricter than Azure,
    which takes whichever app the script defines)."""
    attribute = os.environ.get(APP_ATTRIBUTE_SETTING)
    script = os.environ.get(SCRIPT_FILE_SETTING, "function_app.py")
    module = sys.modules.get(script.removesuffix(".py"))
    if not attribute or module is None:
        return None
    from azure.functions import FunctionRegister

    if not isinstance(getattr(module, attribute, None), FunctionRegister):
        return f"{script} has no function app named {attribute}"
    return None


class Worker:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._handlers = _handlers()
        self._running: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        while True:
            message = await framing.read(self._reader)
            if message is None:  # the host closed the pipe: stop
                break
            kind = message.WhichOneof("content")
            if kind in _SEQUENTIAL:
                await self._answer(kind, message)
                continue
            task = asyncio.get_running_loop().create_task(self._answer(kind, message))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _answer(self, kind: str | None, message: Any) -> None:
        if kind not in self._handlers:
            log.error("the host sent a message this worker does not handle: %s", kind)
            return
        reply_field, handler = self._handlers[kind]
        if kind == "worker_init_request":
            _prepare_init(message)
        properties = {"protos": rpc_messages, "host": LOOPBACK}
        response = await handler(WorkerRequest(kind, message, properties))
        if kind == "worker_init_request":
            _after_init(response)
        reply = rpc_messages.StreamingMessage(
            request_id=message.request_id, **{reply_field: response}
        )
        try:
            self._writer.write(framing.encode(reply))
            await self._writer.drain()
        except ConnectionError:  # the host is gone; `serve` sees the end of the pipe next
            log.debug("the host closed the pipe before the answer to %s", kind)


async def _main(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        await Worker(reader, writer).serve()
    finally:
        writer.close()
        # The SDK keeps one aiohttp session for the process and never closes it (its comment:
        # "process shutdown will clean up"); asyncio would log it as unclosed on the way out.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def _die_with_the_host() -> None:
    """Ask Linux to kill this process when the host dies (PR_SET_PDEATHSIG), as a worker
    never outlives its host on Azure; elsewhere the end of the pipe stops it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.language_worker")
    parser.add_argument("--fd", type=int, required=True, help="the host's end of the pipe")
    args = parser.parse_args(argv)
    level = os.environ.get(LOG_LEVEL_SETTING, "WARNING").upper()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s worker %(process)d %(name)s: %(message)s"
    )
    logging.getLogger("azure").setLevel(max(logging.getLevelName(level), logging.WARNING))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host says when to stop
    _die_with_the_host()
    asyncio.run(_main(args.fd))
    # The host is gone: stop now, without waiting for functions still running on the pool.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
