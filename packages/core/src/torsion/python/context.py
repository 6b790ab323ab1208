"""
Dynamically scoped, per-thread context.

A context is a mapping of keys to values that is visible to everything called
(directly or indirectly) from a ``call``, and only for that call's duration.
It lets a framework hand information such as a logging prefix down through
code that does not pass it along explicitly::

    from torsion.python import context

    def show() -> None:
        print(context.get("request-id"))

    context.call({"request-id": 7}, show)   # prints 7
    show()                                  # prints None

Each thread has its own context stack, so values set in one thread are never
seen by another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["ContextTracker", "call", "get", "theContextTracker"]

_T = TypeVar("_T")


class ContextTracker:
    """
    Keep a stack of context mappings for each thread.

    Most code uses the module-level ``call`` and ``get`` functions, which use
    the shared ``theContextTracker`` instance.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _stack(self) -> list[dict[object, Any]]:
        stack: list[dict[object, Any]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = [{}]
            self._local.stack = stack
        return stack

    def currentContext(self) -> dict[object, Any]:
        """
        Return the mapping in effect for the current thread.

        :return: a mapping of every key visible at this point; modifying it
            has no effect on the context.
        """
        return dict(self._stack()[-1])

    def callWithContext(
        self,
        newContext: Mapping[object, Any],
        func: Callable[..., _T],
        *args: Any,
        **kwargs: Any,
    ) -> _T:
        """
        Call ``func`` with ``newContext`` layered over the current context.

        :param newContext: keys and values visible while ``func`` runs; they
            hide any value the same keys had before.
        :param func: the callable to run.
        :param args: positional arguments for ``func``.
        :param kwargs: keyword arguments for ``func``.
        :return: whatever ``func`` returns.
        """
        stack = self._stack()
        merged = dict(stack[-1])
        merged.update(newContext)
        stack.append(merged)
        try:
            return func(*args, **kwargs)
        finally:
            stack.pop()

    def getContext(self, key: object, default: Any = None) -> Any:
        """
        Look a key up in the current thread's context.

        :param key: the key to look up.
        :param default: returned when ``key`` is not set.
        :return: the value of ``key`` in the innermost enclosing ``call``, or
            ``default``.
        """
        return self._stack()[-1].get(key, default)


theContextTracker = ContextTracker()
"""The tracker used by the module-level ``call`` and ``get`` functions."""


def call(
    newContext: Mapping[object, Any], func: Callable[..., _T], *args: Any, **kw: Any
) -> _T:
    """
    Call ``func`` with ``newContext`` visible to it and to everything it calls.

    :param newContext: keys and values to make visible.
    :param func: the callable to run.
    :param args: positional arguments for ``func``.
    :param kw: keyword arguments for ``func``.
    :return: whatever ``func`` returns.
    """
    return theContextTracker.callWithContext(newContext, func, *args, **kw)


def get(key: object, default: Any = None) -> Any:
    """
    Return the value of ``key`` in the current context.

    :param key: the key to look up.
    :param default: returned when ``key`` is not set.
    :return: the value, or ``default``.
    """
    return theContextTracker.getContext(key, default)
