"""
Adapters and components, on top of ``zope.interface``.

An adapter turns an object providing one interface (or an instance of a
class) into an object providing another.  Register a factory once::

    registerAdapter(UserAvatar, User, IAvatar)

and calling the interface does the conversion::

    avatar = IAvatar(user)

A ``Componentized`` object instead keeps, per interface, one component that
it answers with, creating it through the registered adapters on first use.
``proxyForInterface`` builds a class that forwards an interface's methods
and attributes to a wrapped object, for writing decorators that change one
method and keep the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zope.interface import declarations, interface
from zope.interface.adapter import AdapterRegistry
from zope.interface.interface import InterfaceClass

from torsion.python.reflect import qual

__all__ = [
    "ALLOW_DUPLICATES",
    "Adapter",
    "CannotAdapt",
    "Componentized",
    "getAdapterFactory",
    "getRegistry",
    "globalRegistry",
    "proxyForInterface",
    "registerAdapter",
]

ALLOW_DUPLICATES = False
"""Set to ``True`` to let ``registerAdapter`` replace an existing adapter."""

globalRegistry = AdapterRegistry()
"""The registry ``registerAdapter`` adds to and interfaces look up in."""

# zope.interface's declarations are untyped; reach them through Any.
_declarations: Any = declarations


class CannotAdapt(TypeError):
    """
    An object could not be adapted to the interface asked for.
    """


def _asInterface(origInterface: Any) -> Any:
    if isinstance(origInterface, InterfaceClass):
        return origInterface
    return _declarations.implementedBy(origInterface)


def _describe(target: Any) -> str:
    return str(getattr(target, "__identifier__", None) or qual(target))


def registerAdapter(
    adapterFactory: Callable[[Any], Any],
    origInterface: Any,
    *interfaceClasses: InterfaceClass,
) -> None:
    """
    Register ``adapterFactory`` to adapt objects providing ``origInterface``
    (or instances of it, if it is a class) to each of ``interfaceClasses``.

    :param adapterFactory: called with the object to adapt; returns the
        adapter.
    :param origInterface: an interface, or a class.
    :param interfaceClasses: the interfaces the adapter provides.
    :raises ValueError: if no interface is given, or an adapter is already
        registered for one of the pairs (unless ``ALLOW_DUPLICATES``).
    """
    if not interfaceClasses:
        raise ValueError("registerAdapter needs at least one interface to adapt to")
    origin = _asInterface(origInterface)
    for target in interfaceClasses:
        existing = globalRegistry.registered([origin], target)
        if existing is not None and not ALLOW_DUPLICATES:
            raise ValueError(
                f"an adapter ({existing!r}) was already registered from "
                f"{_describe(origInterface)} to {_describe(target)}"
            )
        globalRegistry.register([origin], target, "", adapterFactory)


def getAdapterFactory(
    fromInterface: Any, toInterface: InterfaceClass, default: Any
) -> Any:
    """
    Find the adapter factory from ``fromInterface`` to ``toInterface``.

    :param fromInterface: an interface or a class.
    :param toInterface: the interface to adapt to.
    :param default: returned when there is no factory.
    :return: the registered factory (one registered for a base interface or
        class counts), or ``default``.
    """
    factory = _lookup1(_asInterface(fromInterface), toInterface)
    return default if factory is None else factory


def getRegistry() -> AdapterRegistry:
    """
    :return: ``globalRegistry``.
    """
    return globalRegistry


def _lookup1(required: Any, provided: InterfaceClass) -> Any:
    registry: Any = globalRegistry
    return registry.lookup1(required, provided)


def _adapterHook(iface: InterfaceClass, ob: object) -> Any:
    factory = _lookup1(_declarations.providedBy(ob), iface)
    if factory is None:
        return None
    return factory(ob)


if _adapterHook not in interface.adapter_hooks:
    interface.adapter_hooks.append(_adapterHook)


class Adapter:
    """
    A convenient base class for adapters: keeps the adapted object as
    ``original``.

    :ivar original: the adapted object.
    :cvar temporaryAdapter: if true, a ``Componentized`` does not keep the
        adapter after creating it.
    :cvar multiComponent: if true, a ``Componentized`` remembers the
        adapter for every interface it provides, not only the one asked for.
    """

    temporaryAdapter = False
    multiComponent = True

    def __init__(self, original: Any) -> None:
        """
        :param original: the object being adapted.
        """
        self.original = original

    def __conform__(self, iface: InterfaceClass) -> Any:
        conform = getattr(self.original, "__conform__", None)
        if conform is not None:
            return conform(iface)
        return None


def _key(iface: Any) -> str:
    return _describe(iface)


class Componentized:
    """
    An object made of components, one per interface.

    ``IFoo(componentized)`` returns the component set for ``IFoo`` or,
    failing that, creates one with the adapter registered for the object's
    class and keeps it (unless the adapter is a ``temporaryAdapter``).
    """

    def __init__(self) -> None:
        self._adapterCache: dict[str, Any] = {}

    def locateAdapterClass(
        self, klass: type, interfaceClass: InterfaceClass, default: Any
    ) -> Any:
        """
        Find the adapter factory from ``klass`` to ``interfaceClass``.

        :param klass: a class.
        :param interfaceClass: an interface.
        :param default: returned when there is none.
        :return: the factory or ``default``.
        """
        return getAdapterFactory(klass, interfaceClass, default)

    def setAdapter(
        self, interfaceClass: InterfaceClass, adapterClass: Callable[[Any], Any]
    ) -> None:
        """
        Create a component with ``adapterClass(self)`` and set it for
        ``interfaceClass``.

        :param interfaceClass: the interface.
        :param adapterClass: the component factory.
        """
        self.setComponent(interfaceClass, adapterClass(self))

    def addAdapter(
        self, adapterClass: Callable[[Any], Any], ignoreClass: bool = False
    ) -> Any:
        """
        Create a component with ``adapterClass(self)`` and add it (see
        ``addComponent``).

        :param adapterClass: the component factory.
        :param ignoreClass: as for ``addComponent``.
        :return: the component.
        """
        component = adapterClass(self)
        self.addComponent(component, ignoreClass)
        return component

    def setComponent(self, interfaceClass: InterfaceClass, component: Any) -> None:
        """
        Use ``component`` for ``interfaceClass``.

        :param interfaceClass: the interface.
        :param component: the component.
        """
        self._adapterCache[_key(interfaceClass)] = component

    def addComponent(self, component: Any, ignoreClass: bool = False) -> None:
        """
        Use ``component`` for the interfaces it provides.

        Only the interfaces for which ``component``'s class is the registered
        adapter are set, unless ``ignoreClass`` is true, in which case all
        of them are.

        :param component: the component.
        :param ignoreClass: set it for every interface it provides.
        """
        for iface in _declarations.providedBy(component):
            if ignoreClass or (
                self.locateAdapterClass(type(self), iface, None) is type(component)
            ):
                self._adapterCache[_key(iface)] = component

    def unsetComponent(self, interfaceClass: InterfaceClass) -> None:
        """
        Forget the component for ``interfaceClass``.

        :param interfaceClass: the interface.
        :raises KeyError: if none is set.
        """
        del self._adapterCache[_key(interfaceClass)]

    def removeComponent(self, component: Any) -> list[str]:
        """
        Forget ``component`` for every interface it was set for.

        :param component: the component.
        :return: the dotted names of those interfaces.
        """
        removed = [
            key for key, value in self._adapterCache.items() if value is component
        ]
        for key in removed:
            del self._adapterCache[key]
        return removed

    def getComponent(self, interface: InterfaceClass, default: Any = None) -> Any:
        """
        Return the component for ``interface``, creating and keeping one
        through the registered adapters if there is none yet.

        :param interface: the interface.
        :param default: returned when no component can be found or made.
        :return: the component, or ``default``.
        """
        key = _key(interface)
        if key in self._adapterCache:
            return self._adapterCache[key]
        adapter = interface.__adapt__(self)
        if adapter is None:
            return default
        if not getattr(adapter, "temporaryAdapter", False):
            self._adapterCache[key] = adapter
            if getattr(adapter, "multiComponent", False):
                self.addComponent(adapter)
        return adapter

    def __conform__(self, interface: InterfaceClass) -> Any:
        return self.getComponent(interface)


class _ProxyDescriptor:
    """
    Forwards one attribute of a proxy to the same attribute of the wrapped
    object.
    """

    def __init__(self, attributeName: str, originalAttribute: str) -> None:
        self.attributeName = attributeName
        self.originalAttribute = originalAttribute

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        original = getattr(instance, self.originalAttribute)
        return getattr(original, self.attributeName)

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(getattr(instance, self.originalAttribute), self.attributeName, value)

    def __delete__(self, instance: Any) -> None:
        delattr(getattr(instance, self.originalAttribute), self.attributeName)


class _ProxyMethodDescriptor(_ProxyDescriptor):
    """
    Forwards a method; read from the class, it is a plain function taking
    the proxy, so that a subclass may call ``Base.method(self, ...)``.
    """

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            name = self.attributeName
            originalAttribute = self.originalAttribute

            def callOriginal(proxy: Any, *args: Any, **kwargs: Any) -> Any:
                return getattr(getattr(proxy, originalAttribute), name)(*args, **kwargs)

            callOriginal.__name__ = name
            return callOriginal
        return super().__get__(instance, owner)


def proxyForInterface(
    iface: InterfaceClass, originalAttribute: str = "original"
) -> type:
    """
    Make a class whose instances wrap an object and forward every method
    and attribute of ``iface`` to it.

    Subclass the result to override some methods::

        class LoudTransport(proxyForInterface(ITransport)):
            def write(self, data):
                self.original.write(data.upper())

    :param iface: the interface to proxy.
    :param originalAttribute: the attribute holding the wrapped object.
    :return: a class implementing ``iface`` whose constructor takes the
        object to wrap.
    """

    def initialize(self: Any, original: Any) -> None:
        setattr(self, originalAttribute, original)

    namespace: dict[str, Any] = {"__init__": initialize}
    for name in iface.names(all=True):
        description = iface[name]
        if isinstance(description, interface.Method):
            namespace[name] = _ProxyMethodDescriptor(name, originalAttribute)
        else:
            namespace[name] = _ProxyDescriptor(name, originalAttribute)
    proxy = type(f"(Proxy for {_describe(iface)})", (object,), namespace)
    _declarations.classImplements(proxy, iface)
    return proxy
