"""
Tests for torsion.python.components.
"""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface import Attribute, Interface, implementer
from zope.interface.verify import verifyObject

from torsion.python import components
from torsion.python.components import (
    Adapter,
    Componentized,
    getAdapterFactory,
    getRegistry,
    globalRegistry,
    proxyForInterface,
    registerAdapter,
)


class IGreeter(Interface):
    greeting = Attribute("The greeting text.")

    def greet(name: str) -> str:
        """Greet someone."""


class IShouter(Interface):
    def shout() -> str:
        """Shout."""


class IUnused(Interface):
    pass


class Person:
    def __init__(self, name: str) -> None:
        self.name = name


class Student(Person):
    pass


@implementer(IGreeter)
class PersonGreeter(Adapter):
    greeting = "Hello"

    def greet(self, name: str) -> str:
        return f"{self.greeting} {name}, I am {self.original.name}"


class IPlain(Interface):
    pass


@implementer(IPlain)
class Plain:
    pass


@implementer(IShouter)
class PlainShouter(Adapter):
    def shout(self) -> str:
        return "HEY"


registerAdapter(PersonGreeter, Person, IGreeter)
registerAdapter(PlainShouter, IPlain, IShouter)


def test_adaptByClass() -> None:
    greeter = IGreeter(Person("ann"))
    assert isinstance(greeter, PersonGreeter)
    assert greeter.greet("bob") == "Hello bob, I am ann"
    assert verifyObject(IGreeter, greeter)


def test_adaptSubclass() -> None:
    greeter = IGreeter(Student("sue"))
    assert isinstance(greeter, PersonGreeter)
    assert greeter.original.name == "sue"


def test_adaptByInterface() -> None:
    assert IShouter(Plain()).shout() == "HEY"


def test_cannotAdapt() -> None:
    with pytest.raises(TypeError):
        IShouter(Person("x"))
    assert IShouter(Person("x"), None) is None


def test_duplicateRegistration() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registerAdapter(PersonGreeter, Person, IGreeter)


def test_allowDuplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    class Local:
        pass

    class IFirst(Interface):
        pass

    registerAdapter(lambda o: 1, Local, IFirst)
    monkeypatch.setattr(components, "ALLOW_DUPLICATES", True)
    registerAdapter(lambda o: 2, Local, IFirst)
    # The adapter factories return plain values, not providers.
    adapted: object = IFirst(Local())
    assert adapted == 2


def test_registerNeedsTarget() -> None:
    with pytest.raises(ValueError):
        registerAdapter(PersonGreeter, Person)


def test_getAdapterFactory() -> None:
    assert getAdapterFactory(Person, IGreeter, None) is PersonGreeter
    assert getAdapterFactory(Student, IGreeter, None) is PersonGreeter
    assert getAdapterFactory(IPlain, IShouter, None) is PlainShouter
    assert getAdapterFactory(Person, IUnused, "dflt") == "dflt"
    assert getRegistry() is globalRegistry


def test_adapterConformDelegates() -> None:
    class Conforming:
        def __conform__(self, iface: Any) -> Any:
            return "conformed" if iface is IUnused else None

    adapter = Adapter(Conforming())
    conformed: object = IUnused(adapter)
    assert conformed == "conformed"
    assert Adapter(object()).__conform__(IUnused) is None


class Thing(Componentized):
    pass


@implementer(IShouter)
class ThingShouter(Adapter):
    def shout(self) -> str:
        return "thing!"


@implementer(IGreeter)
class TemporaryGreeter(Adapter):
    temporaryAdapter = True
    greeting = "Hi"

    def greet(self, name: str) -> str:
        return name


registerAdapter(ThingShouter, Thing, IShouter)
registerAdapter(TemporaryGreeter, Thing, IGreeter)


def test_componentizedKeepsAdapters() -> None:
    thing = Thing()
    first = IShouter(thing)
    assert first.shout() == "thing!"
    assert IShouter(thing) is first
    assert thing.getComponent(IShouter) is first


def test_componentizedTemporaryAdapter() -> None:
    thing = Thing()
    assert IGreeter(thing) is not IGreeter(thing)


def test_componentizedSetAndRemove() -> None:
    thing = Thing()
    shouter = PlainShouter(thing)
    thing.setComponent(IShouter, shouter)
    assert IShouter(thing) is shouter
    assert thing.removeComponent(shouter) == [IShouter.__identifier__]
    assert IShouter(thing) is not shouter
    thing.unsetComponent(IShouter)
    with pytest.raises(KeyError):
        thing.unsetComponent(IShouter)
    assert thing.getComponent(IUnused) is None
    assert thing.getComponent(IUnused, "d") == "d"


def test_componentizedAddComponent() -> None:
    thing = Thing()
    other = PlainShouter(thing)
    thing.addComponent(other)
    # PlainShouter is not the registered adapter for Thing.
    assert thing.getComponent(IShouter) is not other
    fresh = Thing()
    fresh.addComponent(other, ignoreClass=True)
    assert fresh.getComponent(IShouter) is other
    made = fresh.addAdapter(ThingShouter, ignoreClass=True)
    assert fresh.getComponent(IShouter) is made
    fresh.setAdapter(IGreeter, PersonGreeter)
    assert isinstance(fresh.getComponent(IGreeter), PersonGreeter)
    assert fresh.locateAdapterClass(Thing, IShouter, None) is ThingShouter


@implementer(IGreeter)
class RealGreeter:
    greeting = "Yo"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def greet(self, name: str) -> str:
        self.calls.append(name)
        return f"{self.greeting} {name}"


def test_proxyForInterface() -> None:
    proxyClass = proxyForInterface(IGreeter)
    real = RealGreeter()
    proxy = proxyClass(real)
    assert verifyObject(IGreeter, proxy)
    assert IGreeter.implementedBy(proxyClass)
    assert proxy.original is real
    assert proxy.greet("a") == "Yo a"
    assert proxy.greeting == "Yo"
    proxy.greeting = "Hey"
    assert real.greeting == "Hey"
    del proxy.greeting
    assert real.greeting == "Yo"
    assert not hasattr(proxy, "calls")
    assert "IGreeter" in proxyClass.__name__


def test_proxySubclassOverride() -> None:
    Base = proxyForInterface(IGreeter, "wrapped")

    class Polite(Base):  # type: ignore[misc,valid-type]
        def greet(self, name: str) -> str:
            return str(super().greet(name)) + ", please"

    real = RealGreeter()
    polite = Polite(real)
    assert polite.wrapped is real
    assert polite.greet("b") == "Yo b, please"
    assert real.calls == ["b"]
