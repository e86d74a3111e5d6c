"""`DevHost`: one function app served on 127.0.0.1, in-process, started and stopped from code.

    with DevHost(app, root=path, port=0) as host:
        requests.post(f"{host.base_url}/api/...")

The host owns an event loop on a background thread (HTTP server, engine, timers, storage), a
thread pool for activities (`maxConcurrentActivityFunctions`), one for orchestrator replays and
one for synchronous HTTP functions. With `activity_processes=N` (and `app_ref`, so workers can
import the app) activities run in N worker processes instead; see `activity_processes`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

from devhost import client_binding, heap
from devhost.activity_processes import ActivityProcesses, RunActivity, run_on_threads
from devhost.config import HostConfig, apply_settings, forget_settings, load_config
from devhost.engine import Engine
from devhost.errors import ConfigError, DevHostError
from devhost.http_server import RPC_PATH, WEBHOOK_PATH, HttpServer
from devhost.keys import load_or_create_system_key
from devhost.management import ManagementApi, ManagementUrls
from devhost.registry import FunctionIndex, HttpFunction, index_app
from devhost.replay import memoize_sdk_timestamps
from devhost.routes import RouteTable
from devhost.store import CheckpointStore

log = logging.getLogger(__name__)

STORAGE_SETTING = "AzureWebJobsStorage"
# Where the host keeps its own checkpoints and keys, when not in the app's storage: lets a test
# put a fault-injecting proxy in front of the app's storage only, or the app use identity-based
# storage while the host keeps a connection string. Unset: AzureWebJobsStorage, as before.
HOST_STORAGE_SETTING = "DEVHOST_STORAGE"
HTTP_THREADS = 16


class DevHost:
    """A local Functions host for one `df.DFApp`.

    app: the DFApp (indexed once per app object).
    root: the app folder with host.json and local.settings.json (default: current directory).
    port: TCP port on `host`; 0 picks a free one (see `port` / `base_url` after `start`).
    hub_name: overrides host.json's `extensions.durableTask.hubName`.
    activity_processes: 0 runs activities on host threads; N > 0 in N worker processes, which
        import the app from `app_ref` (`module:attribute`, relative to `root`).
    """

    def __init__(
        self,
        app: Any,
        *,
        root: Path | str | None = None,
        port: int = 7071,
        host: str = "127.0.0.1",
        hub_name: str | None = None,
        activity_processes: int = 0,
        app_ref: str | None = None,
    ) -> None:
        if activity_processes < 0:
            raise ConfigError("activity_processes must be 0 (host threads) or more")
        if activity_processes and not app_ref:
            raise ConfigError("activity worker processes need app_ref (module:attribute)")
        self.app = app
        self.activity_processes = activity_processes
        self.app_ref = app_ref
        self.config: HostConfig = load_config(root or Path.cwd(), hub_name)
        self.host = host
        self.port = port
        self.system_key = ""
        self._index: FunctionIndex | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._applied: list[str] = []
        self._store: CheckpointStore | None = None
        self._engine: Engine | None = None
        self._runner: web.AppRunner | None = None
        self._pools: list[ThreadPoolExecutor] = []
        self._workers: ActivityProcesses | None = None

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

    def stats(self) -> dict[str, int]:
        """Engine counters: episodes, checkpoints, activities_started, late_completions_dropped."""
        return dict(self._engine.stats) if self._engine is not None else {}

    def start(self, timeout: float = 60.0) -> DevHost:
        if self._thread is not None:
            raise DevHostError("this host is already started")
        self._applied = apply_settings(self.config.values)
        connection = os.environ.get(HOST_STORAGE_SETTING) or os.environ.get(STORAGE_SETTING)
        if not connection:
            forget_settings(self._applied)
            raise ConfigError(
                f"{STORAGE_SETTING} is not set (local.settings.json Values or the environment); "
                "use UseDevelopmentStorage=true with Azurite"
            )
        self._index = index_app(self.app)
        memoize_sdk_timestamps()
        try:
            self._start_workers()
        except BaseException:
            forget_settings(self._applied)
            raise
        heap.freeze_startup()
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="devhost-loop", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._astart(connection), loop).result(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("devhost for hub %s listening on %s", self.hub_name, self.base_url)
        return self

    def _start_workers(self) -> None:
        if not self.activity_processes:
            return
        assert self.app_ref is not None
        self._workers = ActivityProcesses(
            self.app_ref,
            self.config.root,
            self.activity_processes,
            self.config.max_concurrent_activities,
            logging.getLogger().getEffectiveLevel(),
        ).start()

    @property
    def worker_pids(self) -> list[int]:
        """The activity worker processes' ids (none when activities run on host threads)."""
        return self._workers.pids if self._workers is not None else []

    async def _astart(self, connection: str) -> None:
        assert self._index is not None and self._loop is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            self.port = int(sock.getsockname()[1])
            await self._serve(sock, connection)
        except BaseException:
            sock.close()
            raise

    async def _serve(self, sock: socket.socket, connection: str) -> None:
        assert self._index is not None and self._loop is not None
        self._store = CheckpointStore(connection, self.hub_name)
        await self._store.open()
        self.system_key = await load_or_create_system_key(self._store.blob_service, self.hub_name)
        replays = ThreadPoolExecutor(
            self.config.max_concurrent_orchestrators, thread_name_prefix="devhost-replay"
        )
        http = ThreadPoolExecutor(HTTP_THREADS, thread_name_prefix="devhost-http")
        self._pools = [replays, http]
        self._engine = Engine(self._index, self._store, self._activity_runner(), replays)
        urls = ManagementUrls(self.webhook_base, self.hub_name, self.system_key)
        management = ManagementApi(self._engine, urls)
        routes: RouteTable[HttpFunction] = RouteTable(
            self.config.route_prefix, ((f.route, f.methods, f) for f in self._index.http)
        )
        server = HttpServer(
            routes=routes,
            management=management,
            system_key=self.system_key,
            client_binding=client_binding.binding_json(urls, self.rpc_base),
            http_pool=http,
        )
        client_binding.register(self.rpc_base, management.handle, self._loop)
        await self._engine.recover()
        self._runner = web.AppRunner(server.application(), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    def _activity_runner(self) -> RunActivity:
        if self._workers is not None:
            return self._workers.submit
        activities = ThreadPoolExecutor(
            self.config.max_concurrent_activities, thread_name_prefix="devhost-activity"
        )
        self._pools.append(activities)
        return run_on_threads(activities)

    def stop(self, timeout: float = 30.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            self._stop_workers()
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
        for pool in self._pools:
            pool.shutdown(wait=False, cancel_futures=True)
        self._pools = []
        self._stop_workers()
        forget_settings(self._applied)
        self._applied = []
        self._loop = self._thread = None

    def _stop_workers(self) -> None:
        if self._workers is not None:
            self._workers.shutdown()
            self._workers = None

    async def _astop(self) -> None:
        client_binding.unregister(self.rpc_base)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._engine is not None:
            await self._engine.close()
            self._engine = None
        if self._store is not None:
            await self._store.close()
            self._store = None

    def __enter__(self) -> DevHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
