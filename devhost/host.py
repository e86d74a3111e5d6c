"""`DevHost`: one function app served on 127.0.0.1, started and stopped from code.

    with DevHost("function_app:app", root=path, port=0) as host:
        requests.post(f"{host.base_url}/api/...", headers={"x-functions-key": host.function_key})

The host process owns an event loop on a background thread: the HTTP server, the Durable
engine, timers, keys and checkpoints. The app itself runs in `worker_processes` language-worker
processes (Microsoft's Python runtime, see `devhost.worker_pool`): every function, HTTP,
orchestrator, activity and timer, is indexed, loaded and invoked there, never in this process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from devhost import client_binding, heap
from devhost.app_script import AppScript, resolve_app
from devhost.config import HostConfig, apply_settings, forget_settings, load_config
from devhost.engine import Engine
from devhost.errors import ConfigError, DevHostError
from devhost.http_server import RPC_PATH, WEBHOOK_PATH, HttpServer
from devhost.keys import DEFAULT_FUNCTION_KEY, HostKeys, load_or_create_keys
from devhost.management import ManagementApi, ManagementUrls
from devhost.observe import Observer
from devhost.registry import FunctionIndex, HttpFunction, index_metadata
from devhost.routes import RouteTable
from devhost.store import CheckpointStore
from devhost.timers import TimerScheduler
from devhost.worker_pool import WorkerPool

log = logging.getLogger(__name__)

STORAGE_SETTING = "AzureWebJobsStorage"
# Where the host keeps its own checkpoints and keys, when not in the app's storage: lets a test
# put a fault-injecting proxy in front of the app's storage only, or the app use identity-based
# storage while the host keeps a connection string. Unset: AzureWebJobsStorage, as before.
HOST_STORAGE_SETTING = "DEVHOST_STORAGE"
WORKER_COUNT_SETTING = "FUNCTIONS_WORKER_PROCESS_COUNT"
ENCODE_THREADS = 2


def host_connection() -> str:
    """The storage the host keeps checkpoints, keys and timer status in."""
    connection = os.environ.get(HOST_STORAGE_SETTING) or os.environ.get(STORAGE_SETTING)
    if not connection:
        raise ConfigError(
            f"{STORAGE_SETTING} is not set (local.settings.json Values or the environment); "
            "use UseDevelopmentStorage=true with Azurite"
        )
    return connection


def worker_count(requested: int | None) -> int:
    """The flag when given, else FUNCTIONS_WORKER_PROCESS_COUNT, else 1 (as the host)."""
    if requested is None:
        setting = os.environ.get(WORKER_COUNT_SETTING, "1")
        try:
            requested = int(setting)
        except ValueError:
            raise ConfigError(f"{WORKER_COUNT_SETTING} must be a number, not {setting!r}") from None
    if requested < 1:
        raise ConfigError("the app needs at least one language worker process")
    return requested


class DevHost:
    """A local Functions host for one app (`module:attribute`, resolved under `root`).

    root: the app folder with host.json and local.settings.json (default: current directory).
    port: TCP port on `host`; 0 picks a free one (see `port` / `base_url` after `start`).
    hub_name: overrides host.json's `extensions.durableTask.hubName`.
    worker_processes: language-worker processes (default: FUNCTIONS_WORKER_PROCESS_COUNT or 1).
    observer: told of every activity and orchestrator invocation, replay and checkpoint the
        host makes for its instances, with their durations (`devhost.observe.Observer`, called
        on the host's event loop); none by default, and then nothing is timed.
    """

    def __init__(
        self,
        app: str,
        *,
        root: Path | str | None = None,
        port: int = 7071,
        host: str = "127.0.0.1",
        hub_name: str | None = None,
        worker_processes: int | None = None,
        observer: Observer | None = None,
    ) -> None:
        if not isinstance(app, str):
            raise ConfigError("the app is given as 'module:attribute'; the host never imports it")
        self.config: HostConfig = load_config(root or Path.cwd(), hub_name)
        self.script: AppScript = resolve_app(app, self.config.root)
        self.requested_workers = worker_processes
        self.observer = observer
        self.host = host
        self.port = port
        self.keys: HostKeys | None = None
        self.index: FunctionIndex | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._applied: list[str] = []
        self._store: CheckpointStore | None = None
        self._engine: Engine | None = None
        self._runner: web.AppRunner | None = None
        self._pool: WorkerPool | None = None
        self._timers: TimerScheduler | None = None
        self._encoder: ThreadPoolExecutor | None = None

    @property
    def hub_name(self) -> str:
        return self.config.hub_name

    @property
    def base_url(self) -> str:
        """Where clients reach the host (loopback when it listens on every interface)."""
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{shown}:{self.port}"

    @property
    def webhook_base(self) -> str:
        return self.base_url + WEBHOOK_PATH

    @property
    def rpc_base(self) -> str:
        return f"{self.base_url}{RPC_PATH}/"

    @property
    def system_key(self) -> str:
        return self.keys.system_key if self.keys is not None else ""

    @property
    def function_key(self) -> str:
        """The default function key (what FUNCTION-level routes accept, with the master key)."""
        return self.keys.function_keys[DEFAULT_FUNCTION_KEY] if self.keys is not None else ""

    @property
    def master_key(self) -> str:
        return self.keys.master if self.keys is not None else ""

    @property
    def worker_pids(self) -> list[int]:
        """The language worker processes' ids."""
        return self._pool.pids if self._pool is not None else []

    def stats(self) -> dict[str, int]:
        """Engine counters: episodes, checkpoints, activities_started, late_completions_dropped."""
        return dict(self._engine.stats) if self._engine is not None else {}

    def start(self, timeout: float = 180.0) -> DevHost:
        if self._thread is not None:
            raise DevHostError("this host is already started")
        self._applied = apply_settings(self.config.values)
        try:
            connection = host_connection()
            workers = worker_count(self.requested_workers)
        except BaseException:
            forget_settings(self._applied)
            raise
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="devhost-loop", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._astart(connection, workers), loop).result(
                timeout
            )
        except BaseException:
            self.stop()
            raise
        heap.freeze_startup()
        log.info("devhost for hub %s listening on %s", self.hub_name, self.base_url)
        return self

    async def _astart(self, connection: str, workers: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            self.port = int(sock.getsockname()[1])
            await self._serve(sock, connection, workers)
        except BaseException:
            sock.close()
            raise

    async def _serve(self, sock: socket.socket, connection: str, workers: int) -> None:
        level = logging.getLogger().getEffectiveLevel()
        self._pool = WorkerPool(self.script, self.config.root, workers, level)
        self._store = CheckpointStore(connection, self.hub_name)
        await asyncio.gather(self._pool.start(), self._store.open())
        self.index = index_metadata(self._pool.metadata)
        self.keys = await load_or_create_keys(self._store.blob_service, self.hub_name)
        urls = ManagementUrls(self.webhook_base, self.hub_name, self.keys.system_key)
        binding = client_binding.binding_json(urls, self.rpc_base)
        self._encoder = ThreadPoolExecutor(ENCODE_THREADS, thread_name_prefix="devhost-encode")
        self._engine = Engine(
            self.index,
            self._store,
            self._pool.invoke,
            max_activities=self.config.max_concurrent_activities,
            max_orchestrators=self.config.max_concurrent_orchestrators,
            client_json=binding,
            encode_pool=self._encoder,
            observer=self.observer,
        )
        management = ManagementApi(self._engine, urls)
        routes: RouteTable[HttpFunction] = RouteTable(
            self.config.route_prefix, ((f.route, f.methods, f) for f in self.index.http)
        )
        server = HttpServer(
            routes=routes,
            management=management,
            keys=self.keys,
            client_binding=binding,
            invoke=self._pool.invoke,
        )
        await self._engine.recover()
        self._runner = web.AppRunner(server.application(), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self._timers = TimerScheduler(
            self.index.timers,
            self._pool.invoke,
            self._store.blob_service,
            self.hub_name,
            binding,
        )
        await self._timers.start()

    def stop(self, timeout: float = 30.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._astop(), loop).result(timeout)
            except Exception:
                log.exception("devhost did not stop cleanly")
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not loop.is_running():
            loop.close()
        if self._encoder is not None:
            self._encoder.shutdown(wait=False, cancel_futures=True)
            self._encoder = None
        forget_settings(self._applied)
        self._applied = []
        self._loop = self._thread = None

    async def _astop(self) -> None:
        if self._timers is not None:
            await self._timers.stop()
            self._timers = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._engine is not None:
            await self._engine.close()
            self._engine = None
        if self._pool is not None:
            await self._pool.stop()
            self._pool = None
        if self._store is not None:
            await self._store.close()
            self._store = None

    def __enter__(self) -> DevHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
