"""
A pool of worker threads for running blocking code.

The reactor owns one ``ThreadPool`` (see ``reactor.getThreadPool()``) that
``deferToThread`` and ``reactor.callInThread`` use; create your own when some
blocking work must not compete with the rest of the program, for example a
database connection pool::

    from torsion.python.threadpool import ThreadPool

    pool = ThreadPool(minthreads=1, maxthreads=4, name="db")
    pool.start()
    pool.callInThread(print, "hello from", "a worker")
    pool.stop()          # runs what is queued, then joins every worker

Work may be queued before ``start``; it runs once the pool starts. A
function that raises does not kill its worker: the error is logged (or handed
to the ``onResult`` callback of ``callInThreadWithCallback``) and the worker
carries on with the next item.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from torsion.python import context

__all__ = ["ThreadPool"]

# A work item: the contextvars to run in, the torsion.python.context mapping
# to run in, the callable, its arguments, and the result callback (or None).
_WorkItem = tuple[
    contextvars.Context,
    dict[object, Any],
    Callable[..., object],
    tuple[Any, ...],
    dict[str, Any],
    "Callable[[bool, Any], object] | None",
]


def _currentFailure() -> Any:
    """
    Wrap the exception being handled in a ``Failure``.

    :return: a ``torsion.python.failure.Failure`` for the current exception.
    """
    # Imported here: Failure's module may itself use the thread pool's
    # neighbours, and the reactor imports this module lazily.
    from torsion.python.failure import Failure

    return Failure()


def _logFailure(failure: Any, why: str) -> None:
    """
    Log a failure raised in a worker thread, with its traceback.

    :param failure: a ``Failure``.
    :param why: a short description of what was being done.
    """
    from torsion.logger import Logger

    Logger(namespace=__name__).failure(why, failure)


def _logInfo(message: str) -> None:
    from torsion.logger import Logger

    Logger(namespace=__name__).info("{message}", message=message)


class ThreadPool:
    """
    A resizable pool of worker threads that run callables taken from a queue.

    Threads are created on demand, up to ``max``, whenever queued work finds
    no idle worker; ``min`` threads are kept alive while the pool runs. The
    worker threads are daemon threads, so a pool that is never stopped does
    not keep the interpreter alive; call ``stop`` to finish queued work.

    :ivar min: the number of threads kept alive while the pool runs.
    :ivar max: the greatest number of threads the pool runs at once.
    :ivar name: a name used in the worker threads' names, or ``None``.
    :ivar started: ``True`` between ``start`` and ``stop``.
    :ivar joined: ``True`` once ``stop`` has been called (until the next
        ``start``); work submitted then is dropped.
    :ivar threads: the live worker threads.
    """

    min: int
    max: int
    name: str | None
    started: bool
    joined: bool
    threads: list[threading.Thread]

    def __init__(
        self, minthreads: int = 5, maxthreads: int = 20, name: str | None = None
    ) -> None:
        """
        :param minthreads: the number of threads kept alive while running.
        :param maxthreads: the most threads run at once; at least 1.
        :param name: a name to tell this pool's threads apart, or ``None``.
        :raises ValueError: if ``minthreads`` is negative, ``maxthreads`` is
            less than 1, or ``minthreads`` is greater than ``maxthreads``.
        """
        _checkSizes(minthreads, maxthreads)
        self.min = minthreads
        self.max = maxthreads
        self.name = name
        self.started = False
        self.joined = False
        self.threads = []
        self._queue: deque[_WorkItem | None] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._idle = 0
        self._working = 0
        self._serial = 0

    @property
    def workers(self) -> int:
        """
        The number of live worker threads.
        """
        with self._cond:
            return len(self.threads)

    def _newThreadName(self) -> str:
        self._serial += 1
        return f"PoolThread-{self.name or id(self)}-{self._serial}"

    def _spawnLocked(self) -> None:
        thread = threading.Thread(
            target=self._worker, name=self._newThreadName(), daemon=True
        )
        self.threads.append(thread)
        thread.start()

    def _wantedThreadsLocked(self) -> int:
        """
        How many more threads the queued work justifies, within ``max``.
        """
        pending = len(self._queue)
        missing = pending - self._idle
        room = self.max - len(self.threads)
        return max(0, min(missing, room))

    def start(self) -> None:
        """
        Start the pool: create ``min`` threads, and more if work is queued.

        Starting a pool that is already started does nothing.
        """
        with self._cond:
            if self.started:
                return
            self.started = True
            self.joined = False
            # Retirement markers left over from an earlier stop or shrink
            # would otherwise end fresh workers.
            self._queue = deque(item for item in self._queue if item is not None)
            while len(self.threads) < self.min:
                self._spawnLocked()
            for _ in range(self._wantedThreadsLocked()):
                self._spawnLocked()
            self._cond.notify_all()

    def stop(self) -> None:
        """
        Stop the pool: let the queued work run, then end and join every thread.

        Work submitted after ``stop`` is dropped. ``stop`` blocks until every
        worker has exited; do not call it from one of the pool's own threads.
        """
        with self._cond:
            self.joined = True
            self.started = False
            threads = list(self.threads)
            for _ in threads:
                self._queue.append(None)
            self._cond.notify_all()
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join()

    def adjustPoolsize(
        self, minthreads: int | None = None, maxthreads: int | None = None
    ) -> None:
        """
        Change the pool's size limits, creating or retiring threads to match.

        :param minthreads: the new minimum, or ``None`` to keep the current one.
        :param maxthreads: the new maximum, or ``None`` to keep the current one.
        :raises ValueError: if the resulting limits are invalid (see the
            constructor).
        """
        newMin = self.min if minthreads is None else minthreads
        newMax = self.max if maxthreads is None else maxthreads
        _checkSizes(newMin, newMax)
        with self._cond:
            self.min = newMin
            self.max = newMax
            if not self.started:
                return
            excess = len(self.threads) - self.max
            for _ in range(excess):
                # A retiring worker finishes what is ahead of its marker.
                self._queue.append(None)
            while len(self.threads) < self.min:
                self._spawnLocked()
            for _ in range(self._wantedThreadsLocked()):
                self._spawnLocked()
            self._cond.notify_all()

    def callInThread(self, func: Callable[..., object], *args: Any, **kw: Any) -> None:
        """
        Run ``func(*args, **kw)`` in a worker thread.

        If ``func`` raises, the error is logged with its traceback and the
        worker goes on with the next item.

        :param func: the callable to run.
        :param args: positional arguments for ``func``.
        :param kw: keyword arguments for ``func``.
        """
        self.callInThreadWithCallback(None, func, *args, **kw)

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, Any], object] | None,
        func: Callable[..., object],
        *args: Any,
        **kw: Any,
    ) -> None:
        """
        Run ``func(*args, **kw)`` in a worker thread, then report its outcome.

        ``onResult(True, result)`` is called with the return value, or
        ``onResult(False, failure)`` with a ``Failure`` for the exception
        raised. ``onResult`` runs in the worker thread: to get back to the
        reactor thread, use ``reactor.callFromThread`` inside it. An exception
        raised by ``onResult`` itself is logged.

        The caller's ``contextvars`` and ``torsion.python.context`` values are
        visible to ``func``.

        :param onResult: called with ``(success, resultOrFailure)``, or
            ``None`` to only log errors.
        :param func: the callable to run.
        :param args: positional arguments for ``func``.
        :param kw: keyword arguments for ``func``.
        """
        if not callable(func):
            raise TypeError(f"callInThread needs a callable, not {func!r}")
        item: _WorkItem = (
            contextvars.copy_context(),
            context.theContextTracker.currentContext(),
            func,
            args,
            kw,
            onResult,
        )
        with self._cond:
            if self.joined:
                return
            self._queue.append(item)
            if self.started:
                if self._wantedThreadsLocked():
                    self._spawnLocked()
                self._cond.notify()

    def _worker(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                with self._cond:
                    while not (self._queue and (self.started or self.joined)):
                        self._idle += 1
                        try:
                            self._cond.wait()
                        finally:
                            self._idle -= 1
                    item = self._queue.popleft()
                    if item is None:
                        return
                    self._working += 1
                try:
                    _runItem(item)
                finally:
                    with self._cond:
                        self._working -= 1
                    del item
        finally:
            with self._cond:
                if me in self.threads:
                    self.threads.remove(me)

    def dumpStats(self) -> None:
        """
        Log the pool's queue length and thread counts.
        """
        with self._cond:
            queued = sum(1 for item in self._queue if item is not None)
            message = (
                f"ThreadPool {self.name!r}: queue={queued} idle={self._idle} "
                f"working={self._working} total={len(self.threads)} "
                f"min={self.min} max={self.max}"
            )
        _logInfo(message)

    def __repr__(self) -> str:
        return (
            f"<ThreadPool name={self.name!r} min={self.min} max={self.max} "
            f"started={self.started} threads={len(self.threads)}>"
        )


def _checkSizes(minthreads: int, maxthreads: int) -> None:
    if minthreads < 0:
        raise ValueError(f"minthreads must be >= 0, not {minthreads}")
    if maxthreads < 1:
        raise ValueError(f"maxthreads must be >= 1, not {maxthreads}")
    if minthreads > maxthreads:
        raise ValueError(
            f"minthreads ({minthreads}) must not exceed maxthreads ({maxthreads})"
        )


def _runItem(item: _WorkItem) -> None:
    ctx, torsionContext, func, args, kw, onResult = item
    try:
        result = ctx.run(context.call, torsionContext, func, *args, **kw)
        success = True
    except BaseException:
        result = _currentFailure()
        success = False
    if onResult is None:
        if not success:
            _logFailure(result, "Unhandled error in a thread pool worker")
        return
    try:
        onResult(success, result)
    except BaseException:
        _logFailure(_currentFailure(), "Error in a thread pool result callback")
