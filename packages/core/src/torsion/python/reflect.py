"""
Find objects by name and describe objects safely.

``namedAny`` and ``namedObject`` load an object from its dotted name (as a
configuration file or command line would give it); ``qual`` and
``fullyQualifiedName`` go the other way.  ``safe_repr`` and ``safe_str`` never
raise, which makes them suitable for error reporting and logging, where a
broken ``__repr__`` must not hide the original problem.
"""

from __future__ import annotations

import importlib
import traceback
from types import FunctionType, MethodType, ModuleType
from typing import Any

__all__ = [
    "InvalidName",
    "ModuleNotFound",
    "ObjectNotFound",
    "fullyQualifiedName",
    "namedAny",
    "namedModule",
    "namedObject",
    "qual",
    "safe_repr",
    "safe_str",
]


class InvalidName(ValueError):
    """
    The name given to ``namedAny`` is not a valid dotted Python name.
    """


class ModuleNotFound(InvalidName):
    """
    The name given to ``namedAny`` does not start with an importable module.
    """


class ObjectNotFound(InvalidName):
    """
    The module named by ``namedAny`` was found, but not the object inside it.
    """


def qual(clazz: type) -> str:
    """
    Return the dotted name of a class, including its module.

    :param clazz: a class.
    :return: a name such as ``"torsion.python.reflect.InvalidName"``.
    """
    return f"{clazz.__module__}.{clazz.__qualname__}"


def fullyQualifiedName(obj: object) -> str:
    """
    Return the dotted name of a module, class, function or method.

    :param obj: the object to name.
    :return: a name such as ``"package.module.Class.method"``.  For an object
        without a name of its own, the result of ``str(obj)``.
    """
    if isinstance(obj, ModuleType):
        return obj.__name__
    if isinstance(obj, MethodType):
        return f"{fullyQualifiedName(obj.__func__)}"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(obj, (type, FunctionType)) or (name is not None and callable(obj)):
        module = getattr(obj, "__module__", None)
        if module is not None and name is not None:
            return f"{module}.{name}"
        if name is not None:
            return str(name)
    return str(obj)


def namedModule(name: str) -> ModuleType:
    """
    Import and return the module called ``name``.

    :param name: a dotted module name.
    :return: the module.
    :raises ImportError: if it cannot be imported.
    """
    return importlib.import_module(name)


def namedObject(name: str) -> Any:
    """
    Return the attribute named by the last part of ``name`` of the module
    named by the rest of it.

    :param name: a dotted name such as ``"os.path.join"``.
    :return: the object.
    :raises AttributeError: if the module lacks that attribute.
    """
    moduleName, _, attribute = name.rpartition(".")
    return getattr(namedModule(moduleName), attribute)


def namedAny(name: str) -> Any:
    """
    Load any object from its fully qualified dotted name.

    The longest importable prefix of ``name`` is imported as a module, and the
    rest is followed as attributes, so ``"os.path.join"``,
    ``"collections.OrderedDict.fromkeys"`` and ``"json"`` all work.

    :param name: a dotted name.
    :return: the object it names.
    :raises InvalidName: if ``name`` is empty or has an empty part.
    :raises ModuleNotFound: if not even its first part is an importable
        module.
    :raises ObjectNotFound: if an attribute along the way is missing.
    :raises ImportError: if a module exists but fails while importing.
    """
    if not name:
        raise InvalidName("Empty module name")
    names = name.split(".")
    if "" in names:
        raise InvalidName(
            f"name must be a string giving a '.'-separated list of Python "
            f"identifiers, not {name!r}"
        )
    topLevel: ModuleType | None = None
    moduleNames = names[:]
    while topLevel is None:
        if not moduleNames:
            raise ModuleNotFound(f"No module named {names[0]!r}")
        trialName = ".".join(moduleNames)
        try:
            topLevel = importlib.import_module(trialName)
        except ModuleNotFoundError as e:
            # Only a missing module along our own path means "try a shorter
            # prefix"; a module that exists but imports something missing is
            # a real error the user must see.
            missing = e.name or ""
            if missing and not trialName.startswith(missing):
                raise
            moduleNames.pop()
    obj: Any = topLevel
    for attribute in names[len(moduleNames) :]:
        try:
            obj = getattr(obj, attribute)
        except AttributeError:
            raise ObjectNotFound(f"{name!r} does not name an object") from None
    return obj


def _describeFailure(obj: object, what: str) -> str:
    try:
        className = qual(type(obj))
    except Exception:
        className = "<unknown class>"
    try:
        ident = hex(id(obj))
    except Exception:
        ident = "?"
    tb = traceback.format_exc().rstrip()
    return f"<{className} instance at {ident} with {what} error:\n {tb}>"


def safe_repr(obj: object) -> str:
    """
    Return ``repr(obj)``, or a description of the failure if ``repr`` raises.

    :param obj: any object.
    :return: its representation; never raises.
    """
    try:
        return repr(obj)
    except Exception:
        return _describeFailure(obj, "repr")


def safe_str(obj: object) -> str:
    """
    Return ``str(obj)``, or a description of the failure if ``str`` raises.

    Bytes are decoded as UTF-8 (with replacement) rather than shown as a
    ``b'...'`` literal.

    :param obj: any object.
    :return: its string form; never raises.
    """
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "backslashreplace")
    try:
        return str(obj)
    except Exception:
        return _describeFailure(obj, "str")
