"""
Jelly: turning object graphs into banana-ready s-expressions and back,
safely.

``jelly(obj)`` gives nested lists of ``int``, ``float`` and ``bytes``;
``unjelly(sexp)`` rebuilds the objects.  Shared and cyclic references to
lists, dicts, sets and instances survive the round trip.

Unjellying is **safe by default**: only types a ``SecurityOptions`` (the
*taster*) allows are rebuilt, and anything else raises ``InsecureJelly``.
The basic types (``None``, ``bool``, ``int``, ``float``, ``bytes``,
``str``, ``list``, ``tuple``, ``dict``, ``set``, ``frozenset``) are always
allowed.  Instances are rebuilt only for classes registered on the
receiving side with ``setUnjellyableForClass`` or
``SecurityOptions.allowInstancesOf``; the peer only ever sends a *name*,
which is looked up in that registry: no module is imported, no pickle is
used, and no constructor runs (the instance is created empty and given its
state with ``setCopyableState`` / ``setStateFor`` / ``__setstate__``).

The format is torsion's own (it shares banana with Twisted, but not
jelly's type names), so jelly data from Twisted is not understood.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.spread.interfaces import IJellyable, IUnjellyable

__all__ = [
    "DummySecurityOptions",
    "InsecureJelly",
    "Jellier",
    "Jellyable",
    "SecurityOptions",
    "Unjellier",
    "Unjellyable",
    "globalSecurity",
    "jelly",
    "qual",
    "setUnjellyableForClass",
    "unjelly",
]

_BASIC_NAMES = frozenset(
    [
        b"None",
        b"boolean",
        b"unicode",
        b"list",
        b"tuple",
        b"dictionary",
        b"set",
        b"frozenset",
        b"reference",
        b"dereference",
    ]
)


class InsecureJelly(Exception):
    """
    The data named a type the taster does not allow, or was malformed.
    """


def qual(cls: type) -> str:
    """
    :param cls: a class.
    :return: its fully qualified name, ``module.QualName``.
    """
    return f"{cls.__module__}.{cls.__qualname__}"


class SecurityOptions:
    """
    The allow-list consulted while unjellying (and jellying).

    Basic types are always allowed; instances only of classes named here.
    """

    def __init__(self) -> None:
        self.allowedClasses: dict[bytes, type] = {}

    def allowBasicTypes(self) -> None:
        """
        Allow the basic types; they are always allowed, so this does
        nothing (kept for code written for Twisted).
        """

    def allowInstancesOf(self, *classes: type) -> None:
        """
        Allow instances of ``classes`` to be jellied and rebuilt.  A class
        is sent under its ``copyableTypeName`` attribute if it has one,
        otherwise under ``qual(cls)``.

        :param classes: the classes.
        """
        for cls in classes:
            self.allowedClasses[_typeName(cls)] = cls

    def allowTypes(self, *types: type | str | bytes) -> None:
        """
        Allow classes (same as ``allowInstancesOf``); names are accepted for
        compatibility but only registered classes can be rebuilt.

        :param types: classes or type names.
        """
        for t in types:
            if isinstance(t, type):
                self.allowInstancesOf(t)

    def isTypeAllowed(self, name: bytes) -> bool:
        """
        :param name: a type name as it appears in jelly.
        :return: whether it may be rebuilt.
        """
        return name in _BASIC_NAMES or name in self.allowedClasses

    def isClassAllowed(self, cls: type) -> bool:
        """
        :param cls: a class.
        :return: whether instances of it may be jellied and rebuilt.
        """
        return self.allowedClasses.get(_typeName(cls)) is cls


class DummySecurityOptions(SecurityOptions):
    """
    A taster that also accepts every class registered globally with
    ``setUnjellyableForClass``; it still never imports anything.
    """

    def isTypeAllowed(self, name: bytes) -> bool:
        """
        :param name: a type name.
        :return: whether it is basic or registered anywhere.
        """
        return super().isTypeAllowed(name) or name in unjellyableRegistry

    def isClassAllowed(self, cls: type) -> bool:
        """
        :param cls: a class.
        :return: ``True``.
        """
        return True


globalSecurity = SecurityOptions()
"""The default taster; ``setUnjellyableForClass`` adds to it."""

unjellyableRegistry: dict[bytes, type] = {}
"""Type name to the class that rebuilds it on this side."""


def _typeName(cls: type) -> bytes:
    name = getattr(cls, "copyableTypeName", None)
    if isinstance(name, str):
        return name.encode("utf-8")
    if isinstance(name, bytes):
        return name
    return qual(cls).encode("utf-8")


def setUnjellyableForClass(classname: type | str | bytes, unjellyable: type) -> None:
    """
    Rebuild data sent for ``classname`` as instances of ``unjellyable``,
    and allow it in ``globalSecurity``.

    :param classname: the sending side's class (its type name is used) or
        the type name itself.
    :param unjellyable: a class whose instances are created empty and then
        given the received state (``setCopyableState`` for ``RemoteCopy``,
        ``setStateFor`` for ``Unjellyable``, else ``__setstate__`` or the
        instance dictionary).
    """
    if isinstance(classname, type):
        name = _typeName(classname)
    elif isinstance(classname, str):
        name = classname.encode("utf-8")
    else:
        name = classname
    unjellyableRegistry[name] = unjellyable
    globalSecurity.allowedClasses[name] = unjellyable


@implementer(IJellyable)
class Jellyable:
    """
    Base for objects that control how they are jellied: override
    ``getStateFor`` (the state to send) or ``jellyFor`` (the whole
    expression).  Sent under ``copyableTypeName`` or the class's
    qualified name.
    """

    def getStateFor(self, jellier: Jellier) -> Any:
        """
        :param jellier: the jellier at work.
        :return: the state to send; by default a copy of ``__dict__``.
        """
        return dict(self.__dict__)

    def jellyFor(self, jellier: Jellier) -> Any:
        """
        :param jellier: the jellier at work.
        :return: the s-expression for this object.
        """
        return [_typeName(type(self)), jellier.jelly(self.getStateFor(jellier))]


@implementer(IUnjellyable)
class Unjellyable:
    """
    Base for classes rebuilt from jelly: override ``setStateFor``.
    """

    def setStateFor(self, unjellier: Unjellier, state: Any) -> None:
        """
        :param unjellier: the unjellier at work.
        :param state: the received state, already unjellied.
        """
        if not isinstance(state, dict):
            raise InsecureJelly(f"state of {type(self).__name__} is not a dict")
        self.__dict__.update(state)


class _Seen:
    __slots__ = ("refNo", "sexp")

    def __init__(self) -> None:
        self.sexp: list[Any] | None = None
        self.refNo: int | None = None


class Jellier:
    """
    Turns one object graph into an s-expression.

    :param taster: which classes may be jellied.
    :param invoker: the PB broker, when jellying for one (``None``
        otherwise); ``jellyFor`` methods reach it here.
    """

    def __init__(self, taster: SecurityOptions, invoker: Any = None) -> None:
        self.taster = taster
        self.invoker = invoker
        self._seen: dict[int, _Seen] = {}
        # Keeps every object seen alive, so ids stay unique meanwhile.
        self._keep: list[object] = []
        self._nextRef = 1

    def jelly(self, obj: object) -> Any:
        """
        :param obj: the object.
        :return: its s-expression.
        :raises InsecureJelly: if ``obj`` contains something that cannot be
            jellied.
        """
        if obj is None:
            return [b"None"]
        if isinstance(obj, bool):
            return [b"boolean", b"true" if obj else b"false"]
        if type(obj) in (int, float, bytes):
            return obj
        if type(obj) is str:
            return [b"unicode", obj.encode("utf-8")]
        if isinstance(obj, (list, dict, set, tuple, frozenset)) or hasattr(
            obj, "jellyFor"
        ):
            return self._jellyContainer(obj)
        # Subclasses of the basic types (enums, for example) travel as
        # their plain base value.
        if isinstance(obj, int):
            return self.jelly(int(obj))
        if isinstance(obj, float):
            return self.jelly(float(obj))
        if isinstance(obj, bytes):
            return self.jelly(bytes(obj))
        if isinstance(obj, str):
            return self.jelly(str(obj))
        if self.taster.isClassAllowed(type(obj)):
            return self._jellyContainer(obj)
        raise InsecureJelly(f"class not allowed for jelly: {qual(type(obj))}")

    def _jellyContainer(self, obj: Any) -> Any:
        key = id(obj)
        seen = self._seen.get(key)
        if seen is not None:
            if seen.refNo is None:
                seen.refNo = self._nextRef
                self._nextRef += 1
                if seen.sexp is not None:
                    # Already written: wrap it in place so the first
                    # occurrence carries the number.
                    inner = list(seen.sexp)
                    seen.sexp[:] = [b"reference", seen.refNo, inner]
            return [b"dereference", seen.refNo]
        seen = _Seen()
        self._seen[key] = seen
        self._keep.append(obj)
        sexp: list[Any]
        if isinstance(obj, list):
            sexp = [b"list", *[self.jelly(o) for o in obj]]
        elif isinstance(obj, tuple):
            sexp = [b"tuple", *[self.jelly(o) for o in obj]]
        elif isinstance(obj, dict):
            sexp = [b"dictionary"]
            for k, v in obj.items():
                sexp.append([self.jelly(k), self.jelly(v)])
        elif isinstance(obj, frozenset):
            sexp = [b"frozenset", *[self.jelly(o) for o in obj]]
        elif isinstance(obj, set):
            sexp = [b"set", *[self.jelly(o) for o in obj]]
        elif hasattr(obj, "jellyFor"):
            result = obj.jellyFor(self)
            if not isinstance(result, list):
                raise InsecureJelly(f"jellyFor of {qual(type(obj))} gave no list")
            sexp = result
        else:
            getState = getattr(obj, "__getstate__", None)
            state = getState() if getState is not None else dict(obj.__dict__)
            sexp = [_typeName(type(obj)), self.jelly(state)]
        if seen.refNo is not None:
            sexp = [b"reference", seen.refNo, sexp]
        seen.sexp = sexp
        return sexp


_Handler = Callable[["Unjellier", list[Any], "int | None"], Any]


class Unjellier:
    """
    Rebuilds objects from one s-expression.

    :param taster: which types may be rebuilt.
    :param invoker: the PB broker, when unjellying for one.
    :param handlers: extra type names and how to rebuild them (PB uses this
        for remote references, copies and caches); each handler gets the
        unjellier, the expression and the reference number (or ``None``)
        and returns the object.
    """

    def __init__(
        self,
        taster: SecurityOptions,
        invoker: Any = None,
        handlers: dict[bytes, _Handler] | None = None,
    ) -> None:
        self.taster = taster
        self.invoker = invoker
        self.handlers = handlers or {}
        self.references: dict[int, Any] = {}
        self._unfinished: set[int] = set()

    def register(self, refNo: int | None, obj: Any) -> None:
        """
        Record ``obj`` as reference ``refNo`` (a handler calls this as soon
        as the object exists, so cycles back to it resolve).

        :param refNo: the reference number or ``None``.
        :param obj: the object.
        """
        if refNo is not None:
            self.references[refNo] = obj
            self._unfinished.discard(refNo)

    def unjelly(self, sexp: Any, refNo: int | None = None) -> Any:
        """
        :param sexp: an s-expression.
        :param refNo: for handlers: the reference number being defined.
        :return: the rebuilt object.
        :raises InsecureJelly: for a type not allowed or malformed data.
        """
        if type(sexp) in (int, float, bytes):
            if refNo is not None:
                self.register(refNo, sexp)
            return sexp
        if not isinstance(sexp, list) or not sexp or not isinstance(sexp[0], bytes):
            raise InsecureJelly("malformed jelly")
        kind = sexp[0]
        if kind == b"reference":
            if len(sexp) != 3 or type(sexp[1]) is not int:
                raise InsecureJelly("malformed reference")
            number = sexp[1]
            if number in self.references or number in self._unfinished:
                raise InsecureJelly(f"reference {number} defined twice")
            self._unfinished.add(number)
            obj = self.unjelly(sexp[2], number)
            self.register(number, obj)
            return obj
        if kind == b"dereference":
            if len(sexp) != 2 or type(sexp[1]) is not int:
                raise InsecureJelly("malformed dereference")
            if sexp[1] not in self.references:
                raise InsecureJelly(f"dereference of unknown object {sexp[1]}")
            return self.references[sexp[1]]
        handler = self.handlers.get(kind)
        if handler is not None:
            return handler(self, sexp, refNo)
        method = _BASIC.get(kind)
        if method is not None:
            return method(self, sexp, refNo)
        if not self.taster.isTypeAllowed(kind):
            raise InsecureJelly(f"type not allowed: {kind!r}")
        cls = unjellyableRegistry.get(kind) or self.taster.allowedClasses.get(kind)
        if cls is None:
            raise InsecureJelly(f"no class registered for {kind!r}")
        return self._instance(cls, sexp, refNo)

    def _instance(self, cls: type, sexp: list[Any], refNo: int | None) -> Any:
        if len(sexp) != 2:
            raise InsecureJelly("malformed instance")
        try:
            # No __init__: the peer's data must not run constructors.
            inst: Any = cls.__new__(cls)  # type: ignore[call-overload]
        except Exception as e:
            raise InsecureJelly(f"cannot create {qual(cls)}: {e!r}") from e
        self.register(refNo, inst)
        state = self.unjelly(sexp[1])
        try:
            if hasattr(inst, "setCopyableState"):
                inst.setCopyableState(state)
            elif hasattr(inst, "setStateFor"):
                inst.setStateFor(self, state)
            elif hasattr(inst, "__setstate__") and not isinstance(state, dict):
                inst.__setstate__(state)
            elif isinstance(state, dict):
                inst.__dict__.update(state)
            else:
                raise InsecureJelly(f"cannot set state of {qual(cls)}")
        except InsecureJelly:
            raise
        except Exception as e:
            raise InsecureJelly(f"setting state of {qual(cls)} failed: {e!r}") from e
        return inst

    def _none(self, sexp: list[Any], refNo: int | None) -> Any:
        if len(sexp) != 1:
            raise InsecureJelly("malformed None")
        return None

    def _boolean(self, sexp: list[Any], refNo: int | None) -> Any:
        if len(sexp) != 2 or sexp[1] not in (b"true", b"false"):
            raise InsecureJelly("malformed boolean")
        return sexp[1] == b"true"

    def _unicode(self, sexp: list[Any], refNo: int | None) -> Any:
        if len(sexp) != 2 or type(sexp[1]) is not bytes:
            raise InsecureJelly("malformed unicode")
        try:
            text = sexp[1].decode("utf-8")
        except UnicodeDecodeError as e:
            raise InsecureJelly("unicode that is not UTF-8") from e
        self.register(refNo, text)
        return text

    def _list(self, sexp: list[Any], refNo: int | None) -> Any:
        result: list[Any] = []
        self.register(refNo, result)
        result.extend(self.unjelly(item) for item in sexp[1:])
        return result

    def _tuple(self, sexp: list[Any], refNo: int | None) -> Any:
        result = tuple(self.unjelly(item) for item in sexp[1:])
        self.register(refNo, result)
        return result

    def _dictionary(self, sexp: list[Any], refNo: int | None) -> Any:
        result: dict[Any, Any] = {}
        self.register(refNo, result)
        for pair in sexp[1:]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise InsecureJelly("malformed dictionary")
            key = self.unjelly(pair[0])
            try:
                result[key] = self.unjelly(pair[1])
            except TypeError as e:
                raise InsecureJelly("unhashable dictionary key") from e
        return result

    def _set(self, sexp: list[Any], refNo: int | None) -> Any:
        result: set[Any] = set()
        self.register(refNo, result)
        for item in sexp[1:]:
            try:
                result.add(self.unjelly(item))
            except TypeError as e:
                raise InsecureJelly("unhashable set member") from e
        return result

    def _frozenset(self, sexp: list[Any], refNo: int | None) -> Any:
        try:
            result = frozenset(self.unjelly(item) for item in sexp[1:])
        except TypeError as e:
            raise InsecureJelly("unhashable frozenset member") from e
        self.register(refNo, result)
        return result


_BASIC: dict[bytes, Callable[[Unjellier, list[Any], int | None], Any]] = {
    b"None": Unjellier._none,
    b"boolean": Unjellier._boolean,
    b"unicode": Unjellier._unicode,
    b"list": Unjellier._list,
    b"tuple": Unjellier._tuple,
    b"dictionary": Unjellier._dictionary,
    b"set": Unjellier._set,
    b"frozenset": Unjellier._frozenset,
}


def jelly(
    obj: object,
    taster: SecurityOptions | None = None,
    persistentStore: object = None,
    invoker: Any = None,
) -> Any:
    """
    Serialize ``obj`` into an s-expression banana can carry.

    :param obj: basic values, containers of them, ``Jellyable`` objects and
        instances of classes the taster allows.
    :param taster: the allow-list for instances (default: every class).
    :param persistentStore: accepted for compatibility; unused.
    :param invoker: the PB broker when jellying for one.
    :return: the s-expression.
    :raises InsecureJelly: if something cannot be jellied.
    """
    return Jellier(taster or DummySecurityOptions(), invoker).jelly(obj)


def unjelly(
    sexp: Any,
    taster: SecurityOptions | None = None,
    persistentLoad: object = None,
    invoker: Any = None,
) -> Any:
    """
    Rebuild an object from an s-expression.

    :param sexp: what ``jelly`` produced (possibly from a peer).
    :param taster: the allow-list (default ``globalSecurity``).
    :param persistentLoad: accepted for compatibility; unused.
    :param invoker: the PB broker when unjellying for one.
    :return: the object.
    :raises InsecureJelly: if the data names a type not allowed, is
        malformed, or refers to an object that does not exist (yet).
    """
    return Unjellier(taster or globalSecurity, invoker).unjelly(sexp)
