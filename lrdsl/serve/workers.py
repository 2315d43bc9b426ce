"""Worker processes with a time limit: a request the playground evaluates runs in one of them, so
a schedule that takes too long is stopped (its process killed and replaced) and cannot hang the
server; while one worker is stuck, the others answer the other requests.

Workers are started with the "spawn" method (a fresh interpreter: the server's threads are not
forked) and run only the functions the server names, with the request as their argument.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any, Callable, Set

from ..errors import EvaluationError, LRDSLError

READY = "ready"
STARTUP_LIMIT = 120  # seconds a new worker may take to import lrdsl (a loaded machine, a cold disk)


class TimeLimitError(EvaluationError):
    """An evaluation ran past the server's time limit and was stopped."""


class WorkerError(LRDSLError):
    """A worker failed without an answer: it died, or the function raised something unexpected."""


def _work(connection: Connection) -> None:
    """A worker's loop: receive ``(function, args)``, send back ``(True, result)`` or ``(False, why)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops its workers
    connection.send(READY)  # imported and waiting: a time limit counts the work only
    while True:
        try:
            function, args = connection.recv()
        except (EOFError, OSError):
            return
        try:
            answer = (True, function(*args))
        except Exception as error:  # reported to the server, which answers with it; the worker goes on
            answer = (False, f"{type(error).__name__}: {error}")
        connection.send(answer)


class _Worker:
    def __init__(self, context) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_work, args=(child,), daemon=True, name="lrdsl-serve-worker")
        self.process.start()
        child.close()
        try:
            ready = self.connection.poll(STARTUP_LIMIT) and self.connection.recv() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.stop()
            raise WorkerError(f"a worker process did not start (or not within {STARTUP_LIMIT} s)")

    def stop(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class WorkerPool:
    """``size`` worker processes; :meth:`run` runs a function in an idle one, within ``timeout`` seconds."""

    def __init__(self, size: int = 2, timeout: float = 5.0):
        if size < 1 or not timeout > 0:
            raise LRDSLError(f"a worker pool needs size >= 1 and timeout > 0, got size={size}, timeout={timeout}")
        self.timeout = timeout
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: Set[_Worker] = set()
        self._lock = threading.Lock()
        for _ in range(size):
            self._idle.put(self._start())

    def _start(self) -> _Worker:
        worker = _Worker(self._context)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        with self._lock:
            self._all.discard(worker)
        worker.stop()
        return self._start()

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker process; raises :class:`TimeLimitError` when it takes longer
        than the pool's timeout (the worker is killed and replaced) and :class:`WorkerError` when
        the worker dies or the function raises."""
        worker = self._idle.get()
        try:
            worker.connection.send((function, args))
            if not worker.connection.poll(self.timeout):
                worker = self._replace(worker)
                raise TimeLimitError(
                    f"the evaluation took longer than {self.timeout:g} s and was stopped; "
                    "ask for fewer points or a simpler schedule"
                )
            ok, answer = worker.connection.recv()
        except (EOFError, OSError) as error:
            worker = self._replace(worker)
            raise WorkerError(f"the worker process stopped without an answer ({type(error).__name__})") from None
        finally:
            self._idle.put(worker)
        if not ok:
            raise WorkerError(f"the worker failed: {answer}")
        return answer

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.stop()
