"""Activities in worker processes, the way the Functions host runs several Python workers
(`FUNCTIONS_WORKER_PROCESS_COUNT`): activity work then holds the workers' GILs, not the one the
host's HTTP, replays and checkpoints need.

Each worker imports the app by reference (`module:attribute`), indexes it, and runs activities
on its own threads. The host sends a call to the least busy worker with a free thread, so at
most `maxConcurrentActivityFunctions` run at once across all workers; the rest wait in the host,
first in, first out. A worker that exits fails the calls it held (TaskFailed, as an activity
error would) and is replaced.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from devhost.errors import DevHostError
from devhost.registry import ActivityFunction, index_app, load_app
from devhost.worker import ActivityOutcome, run_activity, unknown_activity

log = logging.getLogger(__name__)

START_SECONDS = 120.0
STOP_SECONDS = 10.0

Call = tuple[int, str, "str | None", str]  # call id, activity name, input JSON, instance id
_NO_WORKERS = ActivityOutcome(
    failed=True, reason="No activity worker process is running; see the host's log"
)
RunActivity = Callable[[ActivityFunction, "str | None", str], "Future[ActivityOutcome]"]


def _serve_calls(app_ref: str, root: str, threads: int, log_level: int, conn: Connection) -> None:
    """A worker process: index the app, then run each call it is sent on a pool thread."""
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s worker %(process)d %(name)s: %(message)s"
    )
    logging.getLogger("azure").setLevel(max(log_level, logging.WARNING))
    logging.getLogger("devhost.registry").setLevel(logging.ERROR)  # the host said it already
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host says when to stop
    try:
        os.chdir(root)
        activities = index_app(load_app(app_ref, Path(root))).activities
    except Exception as exc:  # noqa: BLE001 - reported to the host, which refuses to start
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    send = threading.Lock()

    def reply(call_id: int, outcome: ActivityOutcome) -> None:
        with send:
            conn.send(("done", call_id, outcome))

    conn.send(("ready", os.getpid()))
    with ThreadPoolExecutor(threads, thread_name_prefix="devhost-activity") as pool:
        while True:
            try:
                message: Call | None = conn.recv()
            except EOFError:  # the host is gone
                break
            if message is None:
                break
            call_id, name, input_json, instance_id = message
            function = activities.get(name)
            if function is None:
                reply(call_id, unknown_activity(name, list(activities)))
                continue
            future = pool.submit(run_activity, function, input_json, instance_id)
            future.add_done_callback(partial(_reply_when_done, reply, call_id))


def _reply_when_done(
    reply: Callable[[int, ActivityOutcome], None], call_id: int, future: Future[ActivityOutcome]
) -> None:
    reply(call_id, future.result())


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    threads: int
    calls: dict[int, Future[ActivityOutcome]] = field(default_factory=dict)

    @property
    def free(self) -> bool:
        return len(self.calls) < self.threads


class ActivityProcesses:
    """`submit(function, input_json, instance_id)` runs the activity in a worker process."""

    def __init__(
        self,
        app_ref: str,
        root: Path,
        processes: int,
        max_concurrent: int,
        log_level: int = logging.WARNING,
    ) -> None:
        if processes < 1:
            raise DevHostError("activity processes must be at least 1")
        self.app_ref = app_ref
        self.root = root
        self.log_level = log_level
        self._context = multiprocessing.get_context("spawn")  # never fork a threaded host
        share, extra = divmod(max_concurrent, processes)
        self._threads = [share + (1 if i < extra else 0) for i in range(processes)]
        self._threads = [t for t in self._threads if t > 0]
        self._workers: list[_Worker] = []
        self._waiting: deque[tuple[Call, Future[ActivityOutcome]]] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closing = False
        self._replacing = 0

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def start(self, timeout: float = START_SECONDS) -> ActivityProcesses:
        started = [self._spawn(threads) for threads in self._threads]
        try:
            for worker in started:
                self._await_ready(worker, timeout)
        except BaseException:
            for worker in started:
                worker.process.kill()
                worker.process.join(STOP_SECONDS)
            raise
        with self._lock:
            self._workers = started
        for worker in started:
            self._read_in_background(worker)
        log.info("%d activity worker process(es): %s", len(started), self.pids)
        return self

    def submit(
        self, function: ActivityFunction, input_json: str | None, instance_id: str
    ) -> Future[ActivityOutcome]:
        future: Future[ActivityOutcome] = Future()
        call: Call = (next(self._ids), function.name, input_json, instance_id)
        with self._lock:
            if self._closing:
                raise DevHostError("the activity worker processes are stopping")
            if not self._workers and not self._replacing:
                _settle(future, _NO_WORKERS)
                return future
            free = [w for w in self._workers if w.free]
            worker = min(free, key=lambda w: len(w.calls)) if free else None
            if worker is None:
                self._waiting.append((call, future))
            else:
                self._send(worker, call, future)
        return future

    def shutdown(self, timeout: float = STOP_SECONDS) -> None:
        with self._lock:
            self._closing = True
            workers, self._workers = self._workers, []
            waiting, self._waiting = list(self._waiting), deque()
        for _, future in waiting:
            future.cancel()
        for worker in workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout)
            with self._lock:  # its reader may still be settling calls
                held, worker.calls = worker.calls, {}
            for future in held.values():
                future.cancel()

    def _spawn(self, threads: int) -> _Worker:
        host_end, worker_end = self._context.Pipe()
        process = self._context.Process(
            target=_serve_calls,
            args=(self.app_ref, str(self.root), threads, self.log_level, worker_end),
            name="devhost-activities",
            daemon=True,
        )
        process.start()
        worker_end.close()
        return _Worker(process, host_end, threads)

    @staticmethod
    def _await_ready(worker: _Worker, timeout: float) -> None:
        message: Any = None
        if worker.conn.poll(timeout):
            try:
                message = worker.conn.recv()
            except EOFError:
                message = None
        if not (isinstance(message, tuple) and message[0] == "ready"):
            detail = message[1] if isinstance(message, tuple) else "it exited or did not answer"
            raise DevHostError(f"an activity worker process did not start: {detail}")

    def _read_in_background(self, worker: _Worker) -> None:
        threading.Thread(
            target=self._read, args=(worker,), name="devhost-activity-reader", daemon=True
        ).start()

    def _send(self, worker: _Worker, call: Call, future: Future[ActivityOutcome]) -> None:
        """Under the lock: hand `call` to `worker`; a broken pipe is the reader's to report."""
        worker.calls[call[0]] = future
        try:
            worker.conn.send(call)
        except OSError:
            pass

    def _read(self, worker: _Worker) -> None:
        while True:
            try:
                _, call_id, outcome = worker.conn.recv()
            except (EOFError, OSError):
                self._lost(worker)
                return
            with self._lock:
                future = worker.calls.pop(call_id, None)
                if self._waiting and not self._closing:
                    self._send(worker, *self._waiting.popleft())
            if future is not None:
                _settle(future, outcome)

    def _lost(self, worker: _Worker) -> None:
        """The worker exited: fail what it held and, unless stopping, put a new one in its place."""
        worker.process.join(STOP_SECONDS)
        code = worker.process.exitcode
        with self._lock:
            held, worker.calls = worker.calls, {}
            closing = self._closing
            if not closing:
                self._workers.remove(worker)
                self._replacing += 1
        failed = ActivityOutcome(
            failed=True,
            reason=f"The activity worker process exited (exit code {code}) while running this call",
        )
        for future in held.values():
            _settle(future, failed)
        if closing:
            return
        log.error("activity worker process %s exited with code %s", worker.process.pid, code)
        self._replace(worker.threads)

    def _replace(self, threads: int) -> None:
        try:
            worker = self._spawn(threads)
            self._await_ready(worker, START_SECONDS)
        except DevHostError:
            log.exception("could not replace an activity worker process")
            with self._lock:
                self._replacing -= 1
                stranded = [] if self._workers else list(self._waiting)
                if stranded:
                    self._waiting.clear()
            for _, future in stranded:
                _settle(future, _NO_WORKERS)
            return
        with self._lock:
            self._replacing -= 1
            if self._closing:
                worker.conn.send(None)
                return
            self._workers.append(worker)
            while self._waiting and worker.free:
                self._send(worker, *self._waiting.popleft())
        self._read_in_background(worker)


def _settle(future: Future[ActivityOutcome], outcome: ActivityOutcome) -> None:
    try:
        future.set_result(outcome)
    except InvalidStateError:  # cancelled by shutdown
        pass


def run_on_threads(pool: ThreadPoolExecutor) -> RunActivity:
    """The in-process runner: each activity on a thread of `pool`."""

    def run(
        function: ActivityFunction, input_json: str | None, instance_id: str
    ) -> Future[ActivityOutcome]:
        return pool.submit(run_activity, function, input_json, instance_id)

    return run
