"""
Run blocking code in threads, and reach the reactor from threads.

The reactor thread must never block. Hand blocking work to a thread and get
its result back as a ``Deferred`` whose callbacks run in the reactor thread::

    from torsion.internet import threads

    d = threads.deferToThreadPool(reactor, reactor.getThreadPool(),
                                  hashlib.sha256, big_blob)
    d.addCallback(lambda digest: print(digest.hexdigest()))

From a thread that is not the reactor's, ``blockingCallFromThread`` runs a
function in the reactor thread and waits for its (possibly deferred) result.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from torsion.internet.defer import Deferred, maybeDeferred
from torsion.python.failure import Failure

__all__ = [
    "blockingCallFromThread",
    "callMultipleInThread",
    "deferToThread",
    "deferToThreadPool",
]

_T = TypeVar("_T")


def deferToThreadPool(
    reactor: Any,
    threadpool: Any,
    f: Callable[..., _T],
    *args: Any,
    **kwargs: Any,
) -> Deferred[_T]:
    """
    Call ``f(*args, **kwargs)`` in a thread of ``threadpool``.

    The returned ``Deferred`` fires in the reactor thread: with ``f``'s
    return value, or with a ``Failure`` of the exception it raised.

    :param reactor: the reactor whose thread runs the callbacks (it must
        provide ``callFromThread``).
    :param threadpool: the ``ThreadPool`` that runs ``f``.
    :param f: the blocking callable.
    :param args: positional arguments for ``f``.
    :param kwargs: keyword arguments for ``f``.
    :return: a ``Deferred`` of ``f``'s result.
    """
    d: Deferred[_T] = Deferred()

    def onResult(success: bool, result: Any) -> None:
        if success:
            reactor.callFromThread(d.callback, result)
        else:
            reactor.callFromThread(d.errback, result)

    threadpool.callInThreadWithCallback(onResult, f, *args, **kwargs)
    return d


def deferToThread(f: Callable[..., _T], *args: Any, **kwargs: Any) -> Deferred[_T]:
    """
    Call ``f(*args, **kwargs)`` in the global reactor's thread pool.

    This is ``deferToThreadPool(reactor, reactor.getThreadPool(), ...)`` for
    the global reactor; library code that is given a reactor should call
    ``deferToThreadPool`` with it instead.

    :param f: the blocking callable.
    :param args: positional arguments for ``f``.
    :param kwargs: keyword arguments for ``f``.
    :return: a ``Deferred`` of ``f``'s result, fired in the reactor thread.
    """
    import importlib

    reactor: Any = importlib.import_module("torsion.internet.reactor")
    return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kwargs)


def _runMultiple(tupleList: list[tuple[Callable[..., object], Any, Any]]) -> None:
    for f, args, kwargs in tupleList:
        f(*args, **kwargs)


def callMultipleInThread(
    tupleList: Iterable[tuple[Callable[..., object], Any, Any]],
    reactor: Any = None,
) -> None:
    """
    Run several calls one after the other in a single pool thread.

    If one raises, the error is logged and the rest are not run.

    :param tupleList: ``(callable, args, kwargs)`` triples.
    :param reactor: the reactor whose pool to use; the global reactor if
        omitted.
    """
    if reactor is None:
        import importlib

        reactor = importlib.import_module("torsion.internet.reactor")
    reactor.callInThread(_runMultiple, list(tupleList))


def blockingCallFromThread(
    reactor: Any, f: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """
    Run ``f(*args, **kwargs)`` in the reactor thread and wait for its result.

    Call this from a thread other than the reactor's (it would wait for
    itself forever in the reactor thread). If ``f`` returns a ``Deferred``
    (or is a coroutine function whose coroutine is wrapped by the caller in
    one), this waits until it fires.

    :param reactor: the running reactor.
    :param f: the callable to run in the reactor thread.
    :param args: positional arguments for ``f``.
    :param kwargs: keyword arguments for ``f``.
    :return: ``f``'s result, or the result its ``Deferred`` fired with.
    :raises RuntimeError: if called from the running reactor's own thread.
    :raises Exception: whatever ``f`` raised or its ``Deferred`` failed with,
        re-raised in the calling thread.
    """
    if getattr(reactor, "_reactorThread", None) is threading.current_thread() and (
        getattr(reactor, "running", False)
    ):
        raise RuntimeError(
            "blockingCallFromThread called from the reactor thread would wait forever"
        )
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def inReactor() -> None:
        d = maybeDeferred(f, *args, **kwargs)
        d.addBoth(_put, results)

    reactor.callFromThread(inReactor)
    result = results.get()
    if isinstance(result, Failure):
        result.raiseException()
    return result


def _put(result: Any, results: queue.SimpleQueue[Any]) -> None:
    results.put(result)
