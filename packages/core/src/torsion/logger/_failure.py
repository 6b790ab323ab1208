"""
Lazy access to ``torsion.python.failure.Failure``.

The logging system is imported very early (Failure itself logs), so it reaches
Failure only when an error is actually being recorded.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["captureFailure", "isFailure"]


def _failureClass() -> Any:
    return importlib.import_module("torsion.python.failure").Failure


def captureFailure(exception: BaseException | None = None) -> Any:
    """
    Wrap ``exception``, or the exception being handled, in a ``Failure``.

    :param exception: the exception to wrap; ``None`` for the current one.
    :return: a ``Failure``.
    """
    failureClass = _failureClass()
    if exception is None:
        return failureClass()
    return failureClass(exception, type(exception), exception.__traceback__)


def isFailure(obj: object) -> bool:
    """
    Tell whether ``obj`` is a ``Failure``.

    :param obj: any object.
    :return: ``True`` for a ``Failure`` instance.
    """
    try:
        return isinstance(obj, _failureClass())
    except ImportError:
        return False
